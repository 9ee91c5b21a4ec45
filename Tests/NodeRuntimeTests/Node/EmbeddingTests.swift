import DiscoCore
import DiscoLifecycle
import DiscoNet
import DiscoSystem
import DiscoTestKit
import Foundation
import NodeRuntime
import Synchronization
import Testing

// MARK: - A program embeds a node

@Suite struct EmbeddingTests {
    /// The README's example: a node built in code, on ports the system picks, run by a service
    /// group next to the program's own service. It forms a single-node cluster, takes an event,
    /// and stops when the group is asked to, after the program's service.
    @Test func aProgramRunsANodeInTenLines() async throws {
        let directory = NSTemporaryDirectory() + "disco-embed-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let journal = Journal()
        let appService = ServiceFunction {
            journal.record("app running")
            try? await gracefulShutdown()
            journal.record("app stopped")
        }

        // --- the README's ten lines ---
        var configuration = NodeConfiguration(nodeID: "app-1", dataDirectory: directory)
        configuration.api.bindAddress = PeerAddress(host: "127.0.0.1", port: 0)
        configuration.internode.bindAddress = PeerAddress(host: "127.0.0.1", port: 0)
        let logger = Logger(label: "app", level: .warning, handler: LogfmtHandler(sink: MemoryLogSink()))
        let node = try await Node.start(configuration, logger: logger)
        let group = ServiceGroup(services: [node, appService], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // -----------------------------

        #expect(node.apiAddress.port != 0)
        #expect(node.raftAddress.port != 0)
        let client = HTTPClient()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await waitUntil("the node to lead its cluster") {
                let answer = try? await client.send(HTTPClientRequest(url: node.apiAddress.url + "/leader"))
                return answer?.status == 200 && answer?.bodyText.contains(#""id":"app-1""#) == true
            }
            let posted = try await client.send(HTTPClientRequest(method: "POST", url: node.apiAddress.url + "/events",
                                                                  body: Array(#"{"embedded":true}"#.utf8)))
            #expect(posted.status == 200, "\(posted.bodyText)")
            #expect(journal.all == ["app running"])
            group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await client.shutdown()
        #expect(journal.all == ["app running", "app stopped"])
        // The node stopped: its API no longer answers, and its data directory can be opened again.
        let reopened = try await Node.start(configuration, logger: logger)
        reopened.shutdown()
        try await reopened.run()
    }

    /// A node that fails stops its group with the node's error.
    @Test func aNodeThatFailsStopsItsGroupWithItsError() async throws {
        var setup = try TestNodeSetup(id: "lonely", prefix: "disco-embed-fail")
        defer { setup.removeDirectory() }
        setup.configuration.cluster.voter = false  // a non-voter cannot form a cluster by itself
        let node = try await Node.start(setup.configuration, logger: testLogger(.critical))
        let group = ServiceGroup(services: [node], logger: testLogger(.critical))
        await #expect(throws: NodeFailure.self) { try await group.run() }
        await #expect(throws: NodeFailure.self) { try await node.run() }
    }
}

/// What the test's services did, in order.
final class Journal: Sendable {
    private let entries = Mutex<[String]>([])

    func record(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}
