import DiscoCore
import DiscoRaft
import Synchronization

// MARK: - ClusterStateChange

/// A change of the cluster's name or membership, as published by
/// ``ClusterStateMachine/changes()``.
public enum ClusterStateChange: Hashable, Sendable {
    /// The entry at `index` initialized the cluster, or added, replaced or removed a member.
    case applied(index: UInt64, ApplyResult)
    /// The whole state was replaced by a snapshot up to `appliedIndex`: re-read the members.
    case restored(appliedIndex: UInt64)
}

// MARK: - ClusterStateMachine

/// The node's replicated state machine: applies ``ClusterCommand`` entries from Raft to a
/// ``ClusterState`` and lets the rest of the node read it, look up what a proposal did
/// (``result(at:)``), long-poll the event log (``waitForEvents(since:limit:timeout:)``) and
/// follow membership changes (``changes()``).
///
/// Raft's driver thread calls ``apply(_:)``, ``snapshotSource()`` and ``restore(from:)``; every
/// other method is safe from any thread or task. An entry that does not decode is skipped,
/// logged and counted (``undecodableEntries``), so a bad proposal cannot stop the node.
public final class ClusterStateMachine: RaftStateMachine {
    /// How many recent results ``result(at:)`` remembers by default.
    public static let defaultRecentResultCapacity = 65_536

    struct Waiter: Sendable {
        var since: UInt64
        var wakeUp: OneShotWakeUp
    }

    struct Guarded: Sendable {
        var state = ClusterState()
        var recent: RecentApplyResults
        var undecodableEntries = 0
        var waiters: [UInt64: Waiter] = [:]
        var nextWaiterID: UInt64 = 0
        var subscribers: [UInt64: AsyncStream<ClusterStateChange>.Continuation] = [:]
        var nextSubscriberID: UInt64 = 0
        var keyValueWatchers: [UInt64: KeyValueWatcher] = [:]

        /// Removes and returns the waiters that now have an event to read.
        mutating func takeSatisfiedWaiters() -> [Waiter] {
            let lastSeq = state.lastSeq
            let ready = waiters.filter { $0.value.since < lastSeq }
            for id in ready.keys { waiters[id] = nil }
            return Array(ready.values)
        }
    }

    /// Key-value watches are yielded to while `guarded` is held (so a watch registered
    /// concurrently sees each change once), and Swift runs a stream's termination handler and a
    /// task's cancellation handler under the task's status lock, which a yield or resume takes
    /// too. So no such handler may take `guarded`: they record the ended subscription or
    /// cancelled waiter in these leaf inboxes, and `guarded`'s holders remove them.
    let guarded: Mutex<Guarded>
    /// Key-value watches whose consumers stopped (see ``watchKeyValues(namespace:prefix:)``).
    let endedWatches = EndedSubscriptions<UInt64>()
    /// ``changes()`` streams whose consumers stopped.
    let endedSubscribers = EndedSubscriptions<UInt64>()
    /// Long-poll waiters whose tasks were cancelled.
    let cancelledWaiters = EndedSubscriptions<UInt64>()
    let logger: Logger

    /// An empty state machine; `recentResultCapacity` bounds the memory of ``result(at:)``.
    public init(logger: Logger, recentResultCapacity: Int = ClusterStateMachine.defaultRecentResultCapacity) {
        self.logger = logger
        guarded = Mutex(Guarded(recent: RecentApplyResults(capacity: recentResultCapacity)))
    }

    deinit {
        let (subscribers, watchers) = guarded.withLock { guarded in
            defer {
                guarded.subscribers = [:]
                guarded.keyValueWatchers = [:]
            }
            return (Array(guarded.subscribers.values), Array(guarded.keyValueWatchers.values))
        }
        for subscriber in subscribers { subscriber.finish() }
        for watcher in watchers { watcher.continuation.finish() }
    }

    // MARK: RaftStateMachine

    /// Decodes and applies one committed entry; an entry that does not decode is skipped (its
    /// index still counts as applied) and counted in ``undecodableEntries``.
    public func apply(_ entry: Entry) {
        let command: ClusterCommand
        do {
            command = try ClusterCommand.decode(entry.data)
        } catch {
            logger.warning("skipping undecodable entry \(entry.index) (\(entry.data.count) bytes): \(error)")
            guarded.withLock { guarded in
                if guarded.state.skip(index: entry.index) {
                    guarded.undecodableEntries += 1
                    guarded.recent.record(.ignored(reason: "undecodable entry: \(error)"), at: entry.index)
                }
            }
            return
        }
        let (result, waiters, subscribers) = guarded.withLock { guarded in
            removeEndedSubscriptions(&guarded)
            let result = guarded.state.apply(command, index: entry.index)
            guarded.recent.record(result, at: entry.index)
            let waiters = if case .eventAppended = result { guarded.takeSatisfiedWaiters() } else { [Waiter]() }
            let subscribers = result.isStructural ? Array(guarded.subscribers.values) : []
            // Yielded under the lock, so a watch registered concurrently sees each change once.
            if case .keyValue(.committed(_, let changes)) = result { guarded.publish(changes) }
            return (result, waiters, subscribers)
        }
        for waiter in waiters { waiter.wakeUp.wake() }
        for subscriber in subscribers { subscriber.yield(.applied(index: entry.index, result)) }
        log(result, index: entry.index)
    }

    /// The whole state, encoded (see ``ClusterState/snapshotBytes()``).
    public func takeSnapshot() -> [UInt8] {
        guarded.withLock { $0.state }.snapshotBytes()
    }

    /// The whole state as a source the Raft shell writes straight to the snapshot file in parts
    /// of ``ClusterState/snapshotPartSize`` bytes: a copy of the state (copy-on-write: it shares
    /// the events, and stays the state at this index while entries are applied after it), never
    /// encoded into one buffer.
    public func snapshotSource() -> SnapshotSource {
        guarded.withLock { $0.state }.snapshotSource()
    }

    /// Replaces the whole state with a snapshot; throws ``ClusterCodingError`` when it is corrupt
    /// (the state is then left as it was).
    public func restore(from snapshot: [UInt8]) throws {
        let restored = try ClusterState(snapshot: snapshot)
        let (waiters, subscribers) = guarded.withLock { guarded in
            removeEndedSubscriptions(&guarded)
            guarded.state = restored
            guarded.publishReset()
            return (guarded.takeSatisfiedWaiters(), Array(guarded.subscribers.values))
        }
        for waiter in waiters { waiter.wakeUp.wake() }
        for subscriber in subscribers { subscriber.yield(.restored(appliedIndex: restored.appliedIndex)) }
        logger.info("restored cluster state at index \(restored.appliedIndex): cluster \(restored.cluster ?? "(none)"), \(restored.members.count) members, events \(restored.firstSeq)...\(restored.lastSeq) retained, \(restored.keyValues.count) keys")
    }

    /// Forgets the watches, subscribers and waiters whose handlers reported them gone (call
    /// with `guarded` held).
    func removeEndedSubscriptions(_ guarded: inout Guarded) {
        endedWatches.removeEnded(from: &guarded.keyValueWatchers)
        endedSubscribers.removeEnded(from: &guarded.subscribers)
        cancelledWaiters.removeEnded(from: &guarded.waiters)
    }

    private func log(_ result: ApplyResult, index: UInt64) {
        switch result {
        case .initialized(let cluster, let epoch):
            logger.info("cluster initialized at index \(index): \(cluster.debugDescription) epoch \(epoch)")
        case .memberUpdated(let member, let previous):
            if let previous, previous == member { return }
            logger.info("\(previous == nil ? "member added" : "member updated") at index \(index): \(member)")
        case .memberRemoved(let member):
            logger.info("member removed at index \(index): \(member)")
        case .eventAppended(let seq):
            logger.trace("event \(seq) appended at index \(index)")
        case .eventDuplicate(let seq, let first):
            logger.debug("entry \(index) repeats an idempotency key: event \(seq) (index \(first)) stands")
        case .eventsTrimmed(let through, let count):
            logger.debug("\(count) events trimmed at index \(index): the oldest retained is now \(through + 1)")
        case .keyValue(let outcome):
            logger.trace("key-value transaction at index \(index): \(outcome)")
        case .ignored(let reason):
            logger.debug("entry \(index) ignored: \(reason)")
        }
    }

    // MARK: Reading

    /// A copy of the whole state.
    public var state: ClusterState { guarded.withLock { $0.state } }
    /// The members ordered by ID.
    public var members: [ClusterMember] { guarded.withLock { $0.state.sortedMembers } }
    /// The members ordered by ID with the index of the last entry applied, read together.
    public var membersWithAppliedIndex: (members: [ClusterMember], appliedIndex: UInt64) {
        guarded.withLock { ($0.state.sortedMembers, $0.state.appliedIndex) }
    }
    /// The member with this ID, if any.
    public func member(_ id: NodeID) -> ClusterMember? { guarded.withLock { $0.state.members[id] } }
    /// The cluster name, once initialized.
    public var cluster: String? { guarded.withLock { $0.state.cluster } }
    /// The cluster epoch, once initialized.
    public var epoch: UInt64? { guarded.withLock { $0.state.epoch } }
    /// The Raft index of the last entry applied.
    public var appliedIndex: UInt64 { guarded.withLock { $0.state.appliedIndex } }
    /// The sequence number of the last event.
    public var lastSeq: UInt64 { guarded.withLock { $0.state.lastSeq } }
    /// The sequence number of the oldest retained event (``lastSeq`` + 1 when none is).
    public var firstSeq: UInt64 { guarded.withLock { $0.state.firstSeq } }
    /// How many events are retained, and the size of their data in bytes.
    public var retainedEvents: (count: Int, bytes: Int) { guarded.withLock { ($0.state.events.count, $0.state.eventBytes) } }
    /// What the first append with idempotency key `key` did, while the key is in the window.
    public func idempotentAppend(key: String) -> IdempotencyWindow.Record? {
        guarded.withLock { $0.state.idempotency.record(for: key) }
    }

    /// How many idempotency keys the window holds.
    public var idempotencyKeys: Int { guarded.withLock { $0.state.idempotency.count } }

    /// Entries skipped because they did not decode.
    public var undecodableEntries: Int { guarded.withLock { $0.undecodableEntries } }

    /// What applying the entry at `index` did, while it is among the recently applied ones
    /// (nil for older entries, entries applied before a restart, and membership entries of
    /// Raft itself). An HTTP handler that proposed an event reads its `seq` here with the index
    /// returned by `RaftNodeShell.propose`.
    public func result(at index: UInt64) -> ApplyResult? {
        guarded.withLock { $0.recent.result(at: index) }
    }

    /// Retained events with a sequence number above `seq` (at most `limit`), with the bounds of
    /// the retained log.
    public func events(since seq: UInt64, limit: Int) -> EventPage {
        guarded.withLock { EventPage(events: $0.state.events(since: seq, limit: limit), firstSeq: $0.state.firstSeq, lastSeq: $0.state.lastSeq) }
    }

    /// The sequence number to trim through for this retention, or nil when the log is within it.
    public func trimPoint(for retention: EventRetention) -> UInt64? {
        guarded.withLock { $0.state.trimPoint(maxEvents: retention.maxEvents, maxBytes: retention.maxBytes) }
    }
}

// MARK: - Structural results

extension ApplyResult {
    /// Whether the result changed the cluster's name or membership (what ``ClusterStateMachine/changes()`` publishes).
    var isStructural: Bool {
        switch self {
        case .initialized, .memberUpdated, .memberRemoved: true
        case .eventAppended, .eventDuplicate, .eventsTrimmed, .keyValue, .ignored: false
        }
    }
}
