import Synchronization

// MARK: - NodeMetrics

/// Counters the node exports on `/metrics`.
final class NodeMetrics: Sendable {
    let leaderChanges = Atomic<Int>(0)
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
}
