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
    private struct Entry {
        let deadline: UInt64
        let id: UInt64
        let action: () -> Void
    }

    private var heap: [Entry] = []
    private var cancelled: Set<UInt64> = []
    private var nextID: UInt64 = 1

    var isEmpty: Bool { heap.isEmpty }
    var nextDeadline: UInt64? { heap.first?.deadline }

    mutating func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> TimerID {
        let id = nextID
        nextID &+= 1
        heap.append(Entry(deadline: deadline, id: id, action: action))
        siftUp(heap.count - 1)
        return TimerID(raw: id)
    }

    mutating func cancel(_ id: TimerID) {
        cancelled.insert(id.raw)
    }

    /// Removes and returns the actions of every timer due at `now`, in deadline order.
    mutating func popDue(now: UInt64) -> [() -> Void] {
        var due: [() -> Void] = []
        while let top = heap.first, top.deadline <= now {
            let entry = removeTop()
            if cancelled.remove(entry.id) == nil { due.append(entry.action) }
        }
        if heap.isEmpty { cancelled.removeAll(keepingCapacity: true) }
        return due
    }

    // MARK: Heap plumbing

    private func less(_ a: Int, _ b: Int) -> Bool {
        heap[a].deadline < heap[b].deadline || (heap[a].deadline == heap[b].deadline && heap[a].id < heap[b].id)
    }

    private mutating func removeTop() -> Entry {
        heap.swapAt(0, heap.count - 1)
        let entry = heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
        return entry
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, less(left, smallest) { smallest = left }
            if right < heap.count, less(right, smallest) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
