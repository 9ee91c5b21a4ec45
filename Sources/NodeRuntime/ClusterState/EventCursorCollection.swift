import DiscoCore

// MARK: - Which consumer cursors the leader deletes

/// The rule by which the leader deletes consumer cursors (namespace
/// ``Node/eventCursorNamespace``, keys `<role>/<consumer>`) that no consumer needs, so that
/// cursors of consumers that are gone do not fill the key-value state.
///
/// A cursor is *unneeded* when it is behind the oldest retained event (its consumer would
/// continue at the oldest retained event, exactly where a consumer without a cursor starts:
/// ``EventPage/missedEvents(since:)``), or when its consumer is the default consumer
/// (``Node/defaultConsumer(for:)``) of a node whose member record was removed. An unneeded
/// cursor is deleted only once the leader has seen it unneeded and unchanged (the same
/// revision) for the idle period (``NodeConfiguration/Timing/cursorIdleDeletion``), timed from
/// when it first saw it so: a consumer that acknowledges within that time keeps its cursor,
/// wherever it is. Every deletion is a compare-and-set on the revision read, so an
/// acknowledgement committed first keeps its cursor too.
///
/// Pure: no clock is read; the caller passes the time as a duration since any fixed origin
/// (the same origin on every call).
public enum EventCursorCollection {
    /// Deletions per transaction (one condition and one operation each).
    public static let batchSize = 64

    /// When the leader first saw an unneeded cursor at its current revision (a new revision
    /// starts the idle period again).
    public typealias Sighting = UnchangedSince<KVKey>.Sighting

    /// What one look at the cursors decides.
    public struct Decision: Sendable, Equatable {
        /// The cursors to delete (each on condition that its revision is still the one read).
        public var deletions: [KVEntry]
        /// The unneeded cursors still waiting out the idle period, to pass to the next look.
        public var sightings: [KVKey: Sighting]
    }

    /// Whether `entry` is a cursor no consumer needs: behind the retention window starting at
    /// `firstSeq` (its position is before the oldest retained event, and not 0), or of one of
    /// `removedConsumers`. Entries outside the namespace, or whose value is not a position, are
    /// never unneeded.
    public static func isUnneeded(_ entry: KVEntry, firstSeq: UInt64, removedConsumers: Set<String>) -> Bool {
        guard entry.key.namespace == Node.eventCursorNamespace, let split = entry.key.name.firstIndex(of: "/"),
              let position = UInt64(String(decoding: entry.value, as: UTF8.self)) else { return false }
        let consumer = String(entry.key.name[entry.key.name.index(after: split)...])
        let behind = EventPage(events: [], firstSeq: firstSeq, lastSeq: firstSeq &- 1).missedEvents(since: position)
        return behind || removedConsumers.contains(consumer)
    }

    /// One look at the cursors `entries` at time `now`: an unneeded cursor (``isUnneeded``)
    /// seen at the same revision in `sightings` since at least `idle` ago is deleted; one not
    /// seen before, or seen at another revision, starts waiting now. Cursors that are not
    /// unneeded, or are gone, are forgotten, so one that becomes unneeded again waits afresh.
    public static func decide(_ entries: [KVEntry], firstSeq: UInt64, removedConsumers: Set<String>,
                              sightings: [KVKey: Sighting], now: Duration, idle: Duration) -> Decision {
        var unchanged = UnchangedSince(sightings)
        let unneeded = entries.filter { isUnneeded($0, firstSeq: firstSeq, removedConsumers: removedConsumers) }
        let deletions = unchanged.look(unneeded, now: now, period: idle, key: \.key, revision: \.revision)
        return Decision(deletions: deletions, sightings: unchanged.sightings)
    }

    /// The deletions as transactions of at most ``batchSize`` keys, each key on condition that
    /// its revision is still the one read.
    public static func transactions(_ deletions: [KVEntry]) -> [KVTransaction] {
        stride(from: 0, to: deletions.count, by: batchSize).map { start in
            let batch = deletions[start..<min(start + batchSize, deletions.count)]
            return KVTransaction(conditions: batch.map { KVCondition($0.key, revision: $0.revision) },
                                 operations: batch.map { .delete($0.key) })
        }
    }
}
