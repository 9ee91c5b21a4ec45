// MARK: - EventQueue

/// A deterministic timeline of simulator events: ordered by virtual time, ties broken by the
/// order of scheduling, so the same seed always produces the same sequence.
public struct EventQueue<Event> {
    struct Item {
        let time: Duration
        let sequence: UInt64
        let event: Event

        func precedes(_ other: Item) -> Bool {
            time != other.time ? time < other.time : sequence < other.sequence
        }
    }

    private var heap: [Item] = []
    private var nextSequence: UInt64 = 0

    public init() {}

    /// Number of pending events.
    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }

    /// The time of the earliest pending event.
    public var nextTime: Duration? { heap.first?.time }

    /// Schedules `event` at virtual time `time`.
    public mutating func schedule(_ event: Event, at time: Duration) {
        heap.append(Item(time: time, sequence: nextSequence, event: event))
        nextSequence += 1
        siftUp(heap.count - 1)
    }

    /// Removes and returns the earliest event.
    public mutating func pop() -> (time: Duration, event: Event)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let item = heap.removeLast()
        if !heap.isEmpty { siftDown(0) }
        return (item.time, item.event)
    }

    /// Drops every pending event for which `predicate` is true (e.g. a crashed node's timers).
    public mutating func removeAll(where predicate: (Event) -> Bool) {
        let kept = heap.filter { !predicate($0.event) }
        guard kept.count != heap.count else { return }
        heap = []
        for item in kept.sorted(by: { $0.precedes($1) }) { heap.append(item) }
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { return }
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
            if left < heap.count, heap[left].precedes(heap[smallest]) { smallest = left }
            if right < heap.count, heap[right].precedes(heap[smallest]) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
