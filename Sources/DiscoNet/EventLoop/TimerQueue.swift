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
/// cancel O(1). Long-lived users such as connections keep at most one pending timer each and re-arm
/// it when it fires, so stale entries cannot pile up.
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

    mutating func cancel(_ id: TimerID) {
        cancelled.insert(id.raw)
    }

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
