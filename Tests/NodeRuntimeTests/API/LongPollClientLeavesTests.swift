import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing
@testable import NodeRuntime

/// A long poll (`GET /events?wait=`) whose client goes away ends on the node at once.
@Suite struct LongPollClientLeavesTests {
    /// Before, the API server did not notice the client had closed while the poll waited: the
    /// poll kept its task, its waiter and its connection for the whole `wait` (up to 60 s). The
    /// wait here is the longest, 60 s; the node must have let go within 40 s of the close (a
    /// loaded machine can be seconds late, and a poll that ran out its wait is not counted 499).
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
            try poller.send("GET /events?since=1&wait=60s\(role) HTTP/1.1\r\nHost: node\r\n\r\n")
            try await waitUntil("the long poll to wait") { machine.waitingCount == 1 }
            // Released at the end of this scope: closed.
        }
        try await waitUntil("the long poll to end", timeout: .seconds(40)) { machine.waitingCount == 0 }
        try await expectCountedAsClientClosed(running, setup)
        #expect(await running.stop() == nil)
    }

    /// The abandoned poll counts as 499 in `disco_http_requests_total`, not as the 200 its
    /// cancelled handler returned (before, it did: a poll nobody read counted as answered).
    private func expectCountedAsClientClosed(_ running: RunningNode, _ setup: TestNodeSetup) async throws {
        try await waitUntil("the poll to be counted", timeout: .seconds(60)) { running.node.metrics.requestsByStatus["499"] != nil }
        let client = HTTPClient()
        let metrics = try await client.send(HTTPClientRequest(method: "GET", url: setup.apiURL + "/metrics"))
        await client.shutdown()
        let lines = String(decoding: metrics.body, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("disco_http_requests_total{") }
        // The append before the poll is the only 200 so far (the /metrics request counts once answered).
        #expect(lines.sorted() == [#"disco_http_requests_total{code="200"} 1"#, #"disco_http_requests_total{code="499"} 1"#], "\(lines)")
    }
}
