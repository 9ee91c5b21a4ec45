import DiscoCore

// MARK: - ClusterStore

/// The replicated state the node reads: cluster name and epoch, member records and the event
/// log. The embedded implementation is ``ClusterStateMachine``, applied by Raft; an external
/// consensus engine provides its own.
public protocol ClusterStore: Sendable {
    var cluster: String? { get }
    var epoch: UInt64? { get }
    /// Member records, sorted by ID.
    var members: [ClusterMember] { get }
    /// The member records with the index of the last entry applied to them, read together.
    var membersWithAppliedIndex: (members: [ClusterMember], appliedIndex: UInt64) { get }
    func member(_ id: NodeID) -> ClusterMember?
    var lastSeq: UInt64 { get }
    /// The oldest retained event's sequence number (``lastSeq`` + 1 when none is retained).
    var firstSeq: UInt64 { get }
    /// How many events are retained, and the size of their data in bytes.
    var retainedEvents: (count: Int, bytes: Int) { get }
    /// What applying the entry at `index` did (recent entries only).
    func result(at index: UInt64) -> ApplyResult?
    /// What the first append with this idempotency key did, while it is in the window.
    func idempotentAppend(key: String) -> IdempotencyWindow.Record?
    /// How many idempotency keys the window holds.
    var idempotencyKeys: Int { get }
    func events(since seq: UInt64, limit: Int) -> EventPage
    /// Long poll: returns as soon as an event after `since` exists, or after `timeout`.
    func waitForEvents(since seq: UInt64, limit: Int, timeout: Duration) async -> EventPage
    /// The sequence number the leader should trim the log through to honour `retention`, or nil.
    func trimPoint(for retention: EventRetention) -> UInt64?
    /// Membership and initialization changes as they are applied.
    func changes() -> AsyncStream<ClusterStateChange>

    // MARK: Key-value state of plug-ins

    /// The key's entry, if it exists.
    func keyValue(_ key: KVKey) -> KVEntry?
    /// The keys of `namespace` whose names start with `prefix`, in name order, with the revision
    /// the read reflects.
    func keyValues(namespace: String, prefix: String) -> (entries: [KVEntry], revision: UInt64)
    /// How many keys the store holds and their size in bytes.
    var keyValueUsage: (keys: Int, bytes: Int) { get }
    /// A read of those keys and every later change to them.
    func watchKeyValues(namespace: String, prefix: String) -> KVWatch
}

extension ClusterStateMachine: ClusterStore {}
