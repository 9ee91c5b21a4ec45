import DiscoCore
import Synchronization

// MARK: - ShellObservers

/// What the driver publishes for other tasks: the latest status and the subscribers to
/// leadership changes.
final class ShellObservers: Sendable {
    private struct State {
        var status: RaftStatus
        var lastChange: LeadershipChange
        var subscribers: [Int: AsyncStream<LeadershipChange>.Continuation] = [:]
        var nextKey = 0
        var finished = false
    }

    private let state: Mutex<State>

    init(status: RaftStatus) {
        let change = LeadershipChange(term: status.term, leader: status.leader, isLocal: status.role == .leader)
        state = Mutex(State(status: status, lastChange: change))
    }

    var status: RaftStatus { state.withLock { $0.status } }

    /// Two fields of ``status``, read in place.
    var leaderContact: (isLeader: Bool, lastLeaderContact: ContinuousClock.Instant?) {
        state.withLock { ($0.status.isLeader, $0.status.lastLeaderContact) }
    }

    /// Publishes `status`, and a leadership change to every subscriber when leader or term moved.
    func publish(_ status: RaftStatus) {
        let change = LeadershipChange(term: status.term, leader: status.leader, isLocal: status.role == .leader)
        let targets: [AsyncStream<LeadershipChange>.Continuation] = state.withLock { state in
            state.status = status
            guard change != state.lastChange else { return [] }
            state.lastChange = change
            return Array(state.subscribers.values)
        }
        for target in targets { target.yield(change) }
    }

    /// A stream starting with the current leadership, then every change, until shutdown.
    func subscribe() -> AsyncStream<LeadershipChange> {
        let (stream, continuation) = AsyncStream.makeStream(of: LeadershipChange.self, bufferingPolicy: .bufferingNewest(64))
        let registered: Int? = state.withLock { state in
            continuation.yield(state.lastChange)
            guard !state.finished else { return nil }
            let key = state.nextKey
            state.nextKey += 1
            state.subscribers[key] = continuation
            return key
        }
        guard let key = registered else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: key) }
        }
        return stream
    }

    /// Ends every stream.
    func finish() {
        let targets = state.withLock { state in
            state.finished = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for target in targets { target.finish() }
    }
}

/// Counts network messages the node's queue refused.
final class RefusalCounter: Sendable {
    let count = Atomic<Int>(0)
}
