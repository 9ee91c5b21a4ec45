import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing
@testable import NodeRuntime

/// A long poll (`GET /events?wait=`) whose client goes away ends on the node at once.
@Suite struct LongPollClientLeavesTests {
    /// Before, the API server did not notice the client had closed while the poll waited: the
    /// poll kept its task, its waiter and its connection for the whole `wait` (up to 60 s). The
    /// wait here is 30 s; the node must have let go within a third of it.
    @Test(arguments: ["", "&role=dns"]) func aLongPollEndsWhenItsClientCloses(role: String) async throws {
        let setup = try TestNodeSetup(id: "lpc1", prefix: "disco-long-poll-client-leaves")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        try await waitUntil("lpc1 to lead", timeout: .seconds(120)) { running.node.keyValues(namespace: "x").revision > 0 }
        let appended = try await client.send(HTTPClientRequest(method: "POST", url: setup.apiURL + "/events", body: Array(#"{"n":1}"#.utf8)))
        #expect(appended.status == 200)
        await client.shutdown()

        let machine = try #require(running.node.store as? ClusterStateMachine)
        let address = try #require(try SocketAddress.resolve(host: "127.0.0.1", port: setup.httpPort).first)
        do {
            let poller = try RawSocketClient(connectTo: address)
            try poller.send("GET /events?since=1&wait=30s\(role) HTTP/1.1\r\nHost: node\r\n\r\n")
            try await waitUntil("the long poll to wait") { machine.waitingCount == 1 }
            // Released at the end of this scope: closed.
        }
        try await waitUntil("the long poll to end", timeout: .seconds(10)) { machine.waitingCount == 0 }
        #expect(await running.stop() == nil)
    }
}
