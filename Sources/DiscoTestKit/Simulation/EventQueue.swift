import DiscoCore

// MARK: - EventQueue

/// A deterministic timeline of simulator events: ordered by virtual time, ties broken by the
/// order of scheduling, so the same seed always produces the same sequence.
public struct EventQueue<Event> {
    struct Item: Comparable {
        let time: Duration
        let sequence: UInt64
        let event: Event

        static func < (lhs: Item, rhs: Item) -> Bool { (lhs.time, lhs.sequence) < (rhs.time, rhs.sequence) }
        static func == (lhs: Item, rhs: Item) -> Bool { lhs.sequence == rhs.sequence }
    }

    private var heap = MinHeap<Item>()
    private var nextSequence: UInt64 = 0

    public init() {}

    /// Number of pending events.
    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }

    /// The time of the earliest pending event.
    public var nextTime: Duration? { heap.min?.time }

    /// Schedules `event` at virtual time `time`.
    public mutating func schedule(_ event: Event, at time: Duration) {
        heap.push(Item(time: time, sequence: nextSequence, event: event))
        nextSequence += 1
    }

    /// Removes and returns the earliest event.
    public mutating func pop() -> (time: Duration, event: Event)? {
        heap.popMin().map { ($0.time, $0.event) }
    }

    /// Drops every pending event for which `predicate` is true (e.g. a crashed node's timers).
    public mutating func removeAll(where predicate: (Event) -> Bool) {
        heap.filter { !predicate($0.event) }
    }
}
