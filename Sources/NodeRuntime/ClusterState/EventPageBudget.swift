import DiscoCore

// MARK: - EventPageBudget

/// The byte bound of one page of events (`GET /events`, with or without `role=`): events are
/// taken in order while their JSON encoding (``ClusterEvent/encodeJSON(into:)``, with the commas
/// between them) fits in ``maxBytes``; the first event is always taken, however large, so a
/// reader always makes progress. A page then ends after the last event it holds, and the next
/// read, from that event's `seq`, continues with the first event left out.
public struct EventPageBudget: Hashable, Sendable {
    /// What one page of `GET /events` holds at most: 4 MiB of encoded events (a single event,
    /// at most 1 MiB of data, always fits).
    public static let standardBytes = 4 << 20

    /// The bound, in bytes of encoded events.
    public let maxBytes: Int
    /// The bytes of the events taken so far, commas between them included.
    public private(set) var usedBytes = 0
    /// How many events were taken.
    public private(set) var count = 0

    public init(maxBytes: Int = Self.standardBytes) {
        self.maxBytes = maxBytes
    }

    /// Takes `event` into the page and returns true when the page is empty or the event's
    /// encoding fits in what is left; else returns false and takes nothing (the page is full).
    public mutating func take(_ event: ClusterEvent) -> Bool {
        let size = event.encodedByteCount + (count > 0 ? 1 : 0)
        guard count == 0 || size <= maxBytes - usedBytes else { return false }
        usedBytes += size
        count += 1
        return true
    }
}

extension EventPage {
    /// The page cut to the longest prefix of its events that fits in `budget` (at least one).
    public func bounded(by budget: EventPageBudget) -> EventPage {
        var budget = budget
        let kept = events.prefix { budget.take($0) }
        guard kept.count < events.count else { return self }
        return EventPage(events: Array(kept), firstSeq: firstSeq, lastSeq: lastSeq)
    }
}

extension ClusterEvent {
    /// How many bytes ``encodeJSON(into:)`` appends, without encoding.
    public var encodedByteCount: Int {
        // {"seq": ,"index": ,"time_ms": ,"data": } around the numbers and the data.
        let frame = 7 + 9 + 11 + 8 + 1
        let dataBytes = data.starts(with: [0xEF, 0xBB, 0xBF]) ? data.count - 3 : data.count
        return frame + Self.digits(seq) + Self.digits(index) + Self.digits(timeMillis) + dataBytes
    }

    private static func digits(_ value: UInt64) -> Int {
        var (count, rest) = (1, value / 10)
        while rest > 0 { (count, rest) = (count + 1, rest / 10) }
        return count
    }

    private static func digits(_ value: Int64) -> Int {
        value < 0 ? 1 + digits(value.magnitude) : digits(UInt64(value))
    }
}
