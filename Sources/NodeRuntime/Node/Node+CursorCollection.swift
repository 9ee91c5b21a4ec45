import DiscoCore
import Synchronization

// MARK: - Cursor collection bookkeeping

/// What the leader remembers while consumer cursors wait out the idle period before deletion
/// (``EventCursorCollection``), in memory only: a new leader starts afresh.
struct CursorCollectionState: Sendable {
    /// The time the idle period is measured with: a duration since a fixed origin, from a
    /// monotonic clock (a test may put its own here before the node runs).
    var now: @Sendable () -> Duration = CursorCollectionState.continuousTime()
    /// The unneeded cursors waiting out the idle period, as this leader saw them.
    var sightings: [KVKey: EventCursorCollection.Sighting] = [:]
    /// The term in which ``sightings`` were made: another term (even one this node leads
    /// again) starts them afresh.
    var term: UInt64 = 0
    /// Members whose records were removed (as this node applied it) whose default consumers'
    /// cursors may still be there; at most ``maxRemovedMembers``.
    var removedMembers: Set<NodeID> = []

    /// Removed members remembered at most (more are left to the window rule).
    static let maxRemovedMembers = 1000

    /// One look, as leader in `term`, at the cursors `entries` (``EventCursorCollection/decide``
    /// at ``now``): sightings of another term are dropped first, so a new leader, or this node
    /// leading again, waits a full idle period; `done` are removed members to look for no more.
    mutating func look(_ entries: [KVEntry], term: UInt64, firstSeq: UInt64, removedConsumers: Set<String>,
                       done: Set<NodeID>, idle: Duration) -> EventCursorCollection.Decision {
        if self.term != term {
            self.term = term
            sightings = [:]
        }
        let decision = EventCursorCollection.decide(entries, firstSeq: firstSeq, removedConsumers: removedConsumers,
                                                    sightings: sightings, now: now(), idle: idle)
        sightings = decision.sightings
        removedMembers.subtract(done)
        return decision
    }

    /// Time since this call, by the system's monotonic clock.
    static func continuousTime() -> @Sendable () -> Duration {
        let origin = ContinuousClock.now
        return { ContinuousClock.now - origin }
    }
}

// MARK: - Collecting consumer cursors

extension Node {
    /// On every node, as member records are applied: a removed member's default consumer's
    /// cursors become unneeded; a member whose record comes back is not removed any more.
    func noteMember(_ member: NodeID, removed: Bool) {
        runtime.withLock { state in
            guard removed else {
                state.cursorCollection.removedMembers.remove(member)
                return
            }
            if state.cursorCollection.removedMembers.count >= CursorCollectionState.maxRemovedMembers,
               let any = state.cursorCollection.removedMembers.first {
                state.cursorCollection.removedMembers.remove(any)
            }
            state.cursorCollection.removedMembers.insert(member)
        }
    }

    /// Replaces the clock cursor collection measures the idle period with (before ``run()``).
    func useCursorCollectionClock(_ now: @escaping @Sendable () -> Duration) {
        runtime.withLock { state in
            state.cursorCollection.now = now
            state.cursorCollection.sightings = [:]
        }
    }

    /// The unneeded cursors this leader waits on, and since when (empty on followers).
    var cursorSightings: [KVKey: EventCursorCollection.Sighting] { runtime.withLock { $0.cursorCollection.sightings } }

    /// Drops the cursor bookkeeping of a node that does not lead.
    func forgetCursorSightings() {
        runtime.withLock { state in
            if !state.cursorCollection.sightings.isEmpty { state.cursorCollection.sightings = [:] }
        }
    }

    /// On the leader: deletes the consumer cursors ``EventCursorCollection`` decides on (unneeded
    /// and unchanged for `timing.cursorIdleDeletion`; zero deletes none). A deletion an
    /// acknowledgement overtook (a conflict on its revision) is dropped: the cursor it moved
    /// stays. A write that fails leaves the rest for the next look.
    func collectEventCursors() async {
        let idle = configuration.timing.cursorIdleDeletion
        let status = consensus.status
        guard idle > .zero, status.isLeader else { return forgetCursorSightings() }
        let firstSeq = store.firstSeq
        let entries = keyValues(namespace: Self.eventCursorNamespace).entries
        let noted = runtime.withLock { $0.cursorCollection.removedMembers }
        let removed = noted.filter { store.member($0) == nil }
        let consumers = Set(removed.map(Self.defaultConsumer(for:)))
        // A removed member none of whose cursors is left needs no more looking for.
        let named = Set(entries.compactMap { $0.key.name.split(separator: "/", maxSplits: 1).dropFirst().first.map(String.init) })
        let done = noted.filter { !named.contains(Self.defaultConsumer(for: $0)) }
        let decision = runtime.withLock { state in
            state.cursorCollection.look(entries, term: status.term, firstSeq: firstSeq, removedConsumers: consumers, done: done, idle: idle)
        }
        guard !decision.deletions.isEmpty else { return }
        var deleted: [String] = []
        for batch in EventCursorCollection.transactions(decision.deletions) {
            var transaction = batch
            while !transaction.operations.isEmpty {
                do {
                    switch try await transact(transaction) {
                    case .committed:
                        deleted += transaction.conditions.map(\.key.name)
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
        guard !deleted.isEmpty else { return }
        let shown = deleted.prefix(10).joined(separator: ", ") + (deleted.count > 10 ? ", …" : "")
        logger.info("deleted \(deleted.count) consumer cursors left unchanged for \(GoDuration.format(idle)) "
            + "behind the oldest retained event \(firstSeq) or of removed members: \(shown)")
    }
}
