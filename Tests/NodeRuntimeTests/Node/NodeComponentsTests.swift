import DiscoCore
import DiscoSystem
import DiscoNet
import DiscoTestKit
import Foundation
import NodeRuntime
import Synchronization
import Testing

// MARK: - Engines plug in through NodeComponents

@Suite struct NodeComponentsTests {
    /// A node started in-process with a factory that wraps the embedded engines: the node runs on
    /// exactly what the factory returned (its consensus engine answers the API), forms a
    /// single-node cluster, appends an event, and shuts down cleanly.
    @Test func nodeRunsOnTheComponentsItIsGiven() async throws {
        let setup = try TestNodeSetup(id: "7", prefix: "disco-components")
        defer { setup.removeDirectory() }
        let (http, raft) = (setup.httpPort, setup.raftPort)
        let built = Mutex<[String]>([])
        let factory: NodeComponents.Factory = { context in
            let components = try await NodeComponents.embedded(context)
            built.withLock { $0.append("\(components.consensus.localID)@\(components.internodeAddress)") }
            return components
        }
        let running = try await RunningNode.start(setup.configuration, components: factory)
        #expect(built.withLock { $0 } == ["7@127.0.0.1:\(raft)"])

        let client = HTTPClient()
        try await waitUntil("the node to lead its single-node cluster") {
            let answer = try? await client.send(HTTPClientRequest(url: "http://127.0.0.1:\(http)/leader"))
            return answer?.status == 200 && answer?.bodyText.contains(#""id":"7""#) == true
        }
        let posted = try await client.send(HTTPClientRequest(method: "POST", url: "http://127.0.0.1:\(http)/events",
                                                              body: Array(#"{"plugged":true}"#.utf8)))
        #expect(posted.status == 200, "\(posted.bodyText)")
        #expect(posted.bodyText.contains(#""seq":1"#))
        await client.shutdown()

        #expect(await running.stop() == nil)
    }
}
