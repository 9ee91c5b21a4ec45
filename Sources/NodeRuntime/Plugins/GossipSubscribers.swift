import DiscoCore
import Synchronization

// MARK: - GossipSubscribers

/// Tells roles that SWIM's view of the members changed (``RoleContext/gossipChanges()``): the
/// node's gossip watcher publishes each member update here; each subscriber holds at most one
/// pending signal, so a slow one reads the latest view instead of a backlog.
final class GossipSubscribers: Sendable {
    private struct State {
        var nextID = 0
        var subscribers: [Int: AsyncStream<Void>.Continuation] = [:]
        var finished = false
    }

    private let state = Mutex(State())

    /// A stream of change signals, until ``finish()`` or the consumer stops.
    func subscribe() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state -> Int? in
            guard !state.finished else { return nil }
            state.nextID += 1
            state.subscribers[state.nextID] = continuation
            return state.nextID
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    func publish() {
        for subscriber in state.withLock({ Array($0.subscribers.values) }) { subscriber.yield() }
    }

    /// Ends every stream (the node stopped watching gossip).
    func finish() {
        let subscribers = state.withLock { state -> [AsyncStream<Void>.Continuation] in
            state.finished = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        subscribers.forEach { $0.finish() }
    }
}
