// MARK: - Events counted by type

/// How many events of each `type` a role consumed, for a metric labelled by type. Types are
/// chosen by whoever posts events, so the labels are bounded: the first `capacity − 1` types
/// are counted by name, any later one under ``otherType`` (a scrape never grows without bound).
struct EventTypeCounts: Sendable, Hashable {
    /// The label of the types beyond the first `capacity − 1`.
    static let otherType = "other"

    /// Most labels, ``otherType`` included.
    let capacity: Int
    /// Counts by label.
    private(set) var byType: [String: Int] = [:]

    init(capacity: Int = 64) {
        precondition(capacity > 1, "EventTypeCounts needs room for one type and the other types")
        self.capacity = capacity
    }

    /// Counts one event of `type`.
    mutating func count(_ type: String) {
        let label = byType[type] != nil || byType.count < capacity - 1 ? type : Self.otherType
        byType[label, default: 0] += 1
    }

    /// Events counted, of every type.
    var total: Int { byType.values.reduce(0, +) }
}
