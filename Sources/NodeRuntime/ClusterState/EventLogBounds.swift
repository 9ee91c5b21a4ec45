import DiscoCore

// MARK: - EventPage

/// One read of the event log: the events found and the bounds of what is retained.
public struct EventPage: Hashable, Sendable {
    /// The events read, in sequence order.
    public var events: [ClusterEvent]
    /// The oldest retained event's sequence number (`lastSeq + 1` when none is retained).
    public var firstSeq: UInt64
    /// The last event's sequence number (0 before the first event).
    public var lastSeq: UInt64

    public init(events: [ClusterEvent], firstSeq: UInt64, lastSeq: UInt64) {
        self.events = events
        self.firstSeq = firstSeq
        self.lastSeq = lastSeq
    }

    /// Whether a reader that has seen every event through `seq` missed some, because they were
    /// trimmed before it read them. A reader starting afresh (`seq` 0) misses nothing: it starts
    /// at the oldest retained event.
    public func missedEvents(since seq: UInt64) -> Bool {
        // `seq < firstSeq` first: a reader far ahead (even at UInt64.max) missed nothing.
        seq > 0 && seq < firstSeq && seq + 1 < firstSeq
    }
}

// MARK: - EventRetention

/// How much of the event log the leader keeps: it trims the oldest events once more than
/// `maxEvents` are retained or their data exceeds `maxBytes` (0 means no bound).
public struct EventRetention: Hashable, Sendable {
    public var maxEvents: Int
    public var maxBytes: Int

    public init(maxEvents: Int, maxBytes: Int) {
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
    }

    /// 100,000 events and 64 MiB of event data.
    public static let standard = EventRetention(maxEvents: 100_000, maxBytes: 64 << 20)
    /// Keep every event.
    public static let unbounded = EventRetention(maxEvents: 0, maxBytes: 0)
}
