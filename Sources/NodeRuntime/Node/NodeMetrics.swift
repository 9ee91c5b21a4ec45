import DiscoCore
import Synchronization

// MARK: - NodeMetrics

/// Counters the node exports on `/metrics`.
final class NodeMetrics: Sendable {
    private let leaders = Mutex(LeaderChangeCounter())
    let eventsAppended = Atomic<Int>(0)
    let joinsAccepted = Atomic<Int>(0)
    let learnersPromoted = Atomic<Int>(0)
    let learnersReaped = Atomic<Int>(0)
    let identityRefusals = Atomic<Int>(0)
    private let requests = Mutex<[String: Int]>([:])

    func countRequest(status: Int) {
        requests.withLock { $0[String(status), default: 0] += 1 }
    }

    var requestsByStatus: [String: Int] { requests.withLock { $0 } }

    /// Records the leader consensus reports now (`nil`: none known).
    func observeLeader(_ leader: NodeID?) { leaders.withLock { $0.observe(leader) } }

    /// `disco_raft_leader_changes_total`.
    var leaderChanges: Int { leaders.withLock { $0.changes } }
}

/// Counts changes of the known leader as etcd's `leader_changes_seen_total` does: a leader that
/// becomes known when none was (or another than the last one) is one change; losing the leader
/// and the same leader reported again (a new term, a repeated notice) are none. A fresh single
/// node that elects itself counts 1.
struct LeaderChangeCounter: Sendable {
    private(set) var changes = 0
    private var known: NodeID?

    mutating func observe(_ leader: NodeID?) {
        defer { known = leader }
        if let leader, leader != known { changes += 1 }
    }
}
