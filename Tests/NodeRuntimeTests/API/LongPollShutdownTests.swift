import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing
@testable import NodeRuntime

/// Long polls (`GET /events?wait=`) open when a node shuts down are answered, not cut off.
@Suite struct LongPollShutdownTests {
    /// Before, the API's 2 s grace period ended with every long poll still waiting (up to 60 s),
    /// and their connections were closed with no answer: a following client saw an error
    /// instead of an empty page it could retry elsewhere.
    @Test(arguments: ["", "&role=dns"]) func aLongPollOpenAtShutdownIsAnsweredWithAnEmptyPage(role: String) async throws {
        let setup = try TestNodeSetup(id: "lp1", prefix: "disco-long-poll-shutdown")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        try await waitUntil("lp1 to lead", timeout: .seconds(120)) { running.node.keyValues(namespace: "x").revision > 0 }
        let appended = try await client.send(HTTPClientRequest(method: "POST", url: setup.apiURL + "/events", body: Array(#"{"n":1}"#.utf8)))
        #expect(appended.status == 200)

        let url = setup.apiURL + "/events?since=1&wait=60s" + role
        let poll = Task { try await client.send(HTTPClientRequest(url: url), timeout: .seconds(120)) }
        let machine = try #require(running.node.store as? ClusterStateMachine)
        try await waitUntil("the long poll to wait") { machine.waitingCount == 1 }
        #expect(await running.stop() == nil)
        let answer = try await poll.value
        #expect(answer.status == 200, "\(answer.bodyText)")
        #expect(try JSONValue.parse(answer.body)["events"]?.arrayValue?.isEmpty == true, "\(answer.bodyText)")
        await client.shutdown()
    }
}
