import DiscoCore

// MARK: - Which consumer cursors the leader deletes

/// The rule by which the leader deletes consumer cursors (namespace
/// ``Node/eventCursorNamespace``, keys `<role>/<consumer>`) that no consumer can need, so that
/// cursors of consumers that are gone do not fill the key-value state.
///
/// A consumer whose cursor is missing starts at the oldest retained event, exactly where a
/// consumer whose cursor is behind the retention window continues (``EventPage/missedEvents(since:)``):
/// so a cursor behind the window is deleted without changing where anyone resumes. A cursor of
/// a node's default consumer (``Node/defaultConsumer(for:)``) goes when the node is removed from
/// the cluster; should the node come back with the same ID, it starts at the oldest retained
/// event again (delivery is at least once). Every deletion is a compare-and-set on the
/// revision the leader read, so an acknowledgement committed first keeps its cursor.
public enum EventCursorCollection {
    /// Deletions per transaction (one condition and one operation each).
    public static let batchSize = 64

    /// The cursor entries to delete: those behind the retention window starting at `firstSeq`
    /// (their position is before the oldest retained event, and not 0), and those whose consumer
    /// is one of `removedConsumers`. Entries outside the namespace, or whose value is not a
    /// position, are kept.
    public static func deletions(_ entries: [KVEntry], firstSeq: UInt64, removedConsumers: Set<String> = []) -> [KVEntry] {
        entries.filter { entry in
            guard entry.key.namespace == Node.eventCursorNamespace, let split = entry.key.name.firstIndex(of: "/"),
                  let position = UInt64(String(decoding: entry.value, as: UTF8.self)) else { return false }
            let consumer = String(entry.key.name[entry.key.name.index(after: split)...])
            let behind = EventPage(events: [], firstSeq: firstSeq, lastSeq: firstSeq &- 1).missedEvents(since: position)
            return behind || removedConsumers.contains(consumer)
        }
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
