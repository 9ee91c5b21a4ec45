import DiscoCore

// MARK: - Timers on the loop

/// Identifies a timer scheduled on an ``EventLoop`` so it can be cancelled.
struct TimerID: Hashable, Sendable {
    let raw: UInt64
}

/// A min-heap of deadlines owned by one event loop thread. The loop checks it on every turn and
/// sleeps in `epoll_wait` no longer than the earliest deadline.
///
/// Cancellation is lazy (a set of cancelled ids skipped when they reach the top), which keeps
/// cancel O(1). Users that cancel almost every timer long before it is due (a deadline per
/// request) would pile stale entries up, holding what their actions capture, so once cancelled
/// entries outnumber live ones (and there are more than ``compactionFloor``) the heap is rebuilt
/// without them: amortised O(log n) per cancel, and stale entries never more than the live ones.
struct TimerQueue {
    private struct Entry: Comparable {
        let deadline: UInt64
        let id: UInt64
        let action: () -> Void

        static func < (lhs: Entry, rhs: Entry) -> Bool { (lhs.deadline, lhs.id) < (rhs.deadline, rhs.id) }
        static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.id == rhs.id }
    }

    private var heap = MinHeap<Entry>()
    private var cancelled: Set<UInt64> = []
    private var nextID: UInt64 = 1

    var isEmpty: Bool { heap.isEmpty }
    var nextDeadline: UInt64? { heap.min?.deadline }

    mutating func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> TimerID {
        let id = nextID
        nextID &+= 1
        heap.push(Entry(deadline: deadline, id: id, action: action))
        return TimerID(raw: id)
    }

    /// Cancelled entries tolerated before compaction is considered.
    static let compactionFloor = 1024

    mutating func cancel(_ id: TimerID) {
        cancelled.insert(id.raw)
        if cancelled.count > Self.compactionFloor, cancelled.count * 2 > heap.count { compact() }
    }

    /// Rebuilds the heap from its live entries and forgets the cancelled ids.
    private mutating func compact() {
        var rebuilt = MinHeap<Entry>()
        for entry in heap.unordered where !cancelled.contains(entry.id) { rebuilt.push(entry) }
        heap = rebuilt
        cancelled.removeAll(keepingCapacity: true)
    }

    /// Entries held, live or cancelled (for tests).
    var storedCount: Int { heap.count }

    /// Removes and returns the actions of every timer due at `now`, in deadline order.
    mutating func popDue(now: UInt64) -> [() -> Void] {
        var due: [() -> Void] = []
        while let top = heap.min, top.deadline <= now, let entry = heap.popMin() {
            if cancelled.remove(entry.id) == nil { due.append(entry.action) }
        }
        if heap.isEmpty { cancelled.removeAll(keepingCapacity: true) }
        return due
    }
}
