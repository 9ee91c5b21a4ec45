import DiscoCore
import Synchronization

// MARK: - Collecting consumer cursors

extension Node {
    /// On every node, as member records are applied: a removed member's default consumer's
    /// cursors are to be deleted (by this node once it leads); a member whose record comes back
    /// first is not deleted for. At most 1,000 removals wait (more are left to the window rule).
    func noteMember(_ member: NodeID, removed: Bool) {
        runtime.withLock { state in
            guard removed else {
                state.removedMembers.remove(member)
                return
            }
            if state.removedMembers.count >= 1000, let any = state.removedMembers.first { state.removedMembers.remove(any) }
            state.removedMembers.insert(member)
        }
    }

    /// On the leader: deletes the consumer cursors ``EventCursorCollection`` names, those behind
    /// the oldest retained event (looked at again whenever the window has moved since the last
    /// look) and those of the default consumers of removed members (``noteMember(_:removed:)``).
    /// A deletion an acknowledgement overtook (a conflict on its revision) is dropped: the cursor
    /// it moved stays. A write that fails leaves everything for the next round.
    func collectEventCursors() async {
        let firstSeq = store.firstSeq
        let (collectedAt, removed) = runtime.withLock { ($0.cursorsCollectedAt, $0.removedMembers) }
        let window = collectedAt < firstSeq
        guard consensus.status.isLeader, window || !removed.isEmpty else { return }
        let consumers = Set(removed.map(Self.defaultConsumer(for:)))
        let entries = keyValues(namespace: Self.eventCursorNamespace).entries
        let deletions = EventCursorCollection.deletions(entries, firstSeq: window ? firstSeq : 0, removedConsumers: consumers)
        var deleted = 0
        for batch in EventCursorCollection.transactions(deletions) {
            var transaction = batch
            while !transaction.operations.isEmpty {
                do {
                    switch try await transact(transaction) {
                    case .committed:
                        deleted += transaction.operations.count
                        transaction.operations = []
                    case .conflict(let key, _, _):
                        transaction.conditions.removeAll { $0.key == key }
                        transaction.operations.removeAll { $0 == .delete(key) }
                    case .refused(let reason):
                        logger.warning("consumer cursors not deleted: \(reason)")
                        return
                    }
                } catch {
                    logger.debug("deleting consumer cursors deferred: \(error)")
                    return
                }
            }
        }
        runtime.withLock { state in
            if window { state.cursorsCollectedAt = firstSeq }
            state.removedMembers.subtract(removed)
        }
        if deleted > 0 {
            let members = removed.map(\.rawValue).sorted().joined(separator: ",")
            logger.info("deleted \(deleted) consumer cursors behind the oldest retained event \(firstSeq)"
                + (removed.isEmpty ? "" : " or of removed members \(members)"))
        }
    }
}
