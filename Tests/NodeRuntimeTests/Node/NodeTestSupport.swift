import DiscoCore
import DiscoSystem
import DiscoTestKit
import Foundation
import NodeRuntime

// MARK: - Nodes in process

/// A loopback node configuration with free ports and a fresh data directory (removed by
/// ``TestNodeSetup/removeDirectory()``).
struct TestNodeSetup {
    var configuration: NodeConfiguration
    let httpPort: UInt16
    let raftPort: UInt16

    init(id: NodeID, prefix: String = "disco-node") throws {
        let directory = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
        httpPort = try FreePort.loopback()
        raftPort = try FreePort.loopback()
        configuration = NodeConfiguration(nodeID: id, dataDirectory: directory)
        configuration.api.bindAddress = PeerAddress(host: "127.0.0.1", port: httpPort)
        configuration.internode.bindAddress = PeerAddress(host: "127.0.0.1", port: raftPort)
    }

    var apiURL: String { "http://127.0.0.1:\(httpPort)" }

    func removeDirectory() { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }

    /// Makes this node join `member`'s cluster (through its API) as a non-voter: the cluster keeps
    /// its quorum when this node stops first.
    mutating func joinAsNonVoter(of member: TestNodeSetup) {
        configuration.cluster.voter = false
        configuration.formation.plan = .join
        configuration.formation.join = [PeerAddress(host: "127.0.0.1", port: member.httpPort)]
    }
}

/// A logger whose lines go nowhere (or into `sink`).
func testLogger(_ level: Logger.Level = .warning, sink: MemoryLogSink = MemoryLogSink()) -> Logger {
    Logger(label: "test", level: level, handler: LogfmtHandler(sink: sink))
}

/// A node running in a task the test owns: ``stop()`` asks it to stop gracefully and returns
/// what `run()` threw (nil after a clean stop); ``outcome()`` waits for it to stop by itself.
struct RunningNode {
    let node: Node
    private let task: Task<(any Error)?, Never>

    init(_ node: Node) {
        self.node = node
        task = Task {
            do {
                try await node.run()
                return nil
            } catch {
                return error
            }
        }
    }

    /// Starts a node from `configuration` and runs it.
    static func start(_ configuration: NodeConfiguration, logger: Logger = testLogger(),
                      components: @escaping NodeComponents.Factory = NodeComponents.embedded, roles: [any Role] = []) async throws -> RunningNode {
        RunningNode(try await Node.start(configuration, logger: logger, components: components, roles: roles))
    }

    @discardableResult
    func stop() async -> (any Error)? {
        node.shutdown()
        return await task.value
    }

    func outcome() async -> (any Error)? { await task.value }
}
