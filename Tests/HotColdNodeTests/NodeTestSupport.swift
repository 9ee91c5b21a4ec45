import NodeRuntime
import Synchronization

// MARK: - Stopping every node a test started

/// The nodes a test started, to stop them all when it ends.
final class StartedNodes: Sendable {
    private let nodes = Mutex<[Node]>([])

    func add(_ node: Node) { nodes.withLock { $0.append(node) } }

    /// Asks every node to stop (a node already stopping is left to it).
    func shutdownAll() { for node in nodes.withLock({ $0 }) { node.shutdown() } }
}

/// Runs `body` with a record of the nodes it starts (`started.add`) and a task group for their
/// runs, then stops every node it recorded and waits for their runs, whether `body` returned or
/// threw. A run that fails after `body` returned fails the test; when `body` threw, its error is
/// the one reported.
func withNodes(_ body: (StartedNodes, inout ThrowingTaskGroup<Void, any Error>) async throws -> Void) async throws {
    let started = StartedNodes()
    try await withThrowingTaskGroup(of: Void.self) { nodes in
        do {
            try await body(started, &nodes)
        } catch {
            started.shutdownAll()
            try? await nodes.waitForAll()
            throw error
        }
        started.shutdownAll()
        try await nodes.waitForAll()
    }
}
