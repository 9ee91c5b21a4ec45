import DiscoCore
import Synchronization

// MARK: - EtcdConsensusLog

/// A replicated log kept in etcd instead of embedded Raft: the consensus engine behind
/// `-consensus etcd`.
///
/// - Appends are transactions that compare the `seq` key's mod revision (so indexes are
///   gap-free and assigned once), the leader's election key (the fence: a deposed leader's
///   write fails) and the `cluster` key's create revision (the epoch: a cluster re-created
///   under the same key is not written by old members). Concurrent proposals are committed
///   together in one transaction.
/// - Every node applies the log in index order from one watch on `/<disco-key>/`, which also
///   follows the election, the membership configuration and the members' lease-bound records.
/// - The leader is etcd's election pattern (``EtcdElection``) under this node's lease; it stops
///   acting as leader when its lease keeper's deadline passes, before etcd can expire the lease.
/// - Every ``Configuration/snapshotEvery`` entries the leader stores a snapshot and deletes the
///   log keys it covers; a node that starts, or whose watch was compacted, restores from it.
///
/// ``run()`` does the work (lease renewal, campaigning, watching) until cancelled; one owner
/// runs it. Everything else is safe from any task.
public final class EtcdConsensusLog: Sendable {
    public struct Configuration: Sendable {
        public var localID: NodeID
        public var keys: EtcdClusterKeys
        /// The TTL of this node's lease (its member record and election key).
        public var leaseTTL: Duration = .seconds(5)
        /// This node's record under `members/<id>` (addresses, roles), kept while it lives.
        public var memberRecord: [UInt8] = []
        /// Entries between snapshots (0: never).
        public var snapshotEvery: UInt64 = 10_000
        /// Back-off after a failed etcd call.
        public var retryInterval: Duration = .milliseconds(200)
        /// Most entries in one append transaction (etcd allows 128 operations per transaction).
        public var maxBatch: Int = 100
        /// Most bytes of entries in one append transaction: etcd refuses a request larger than its
        /// `--max-request-bytes` (1.5 MiB by default). A larger entry still goes alone.
        public var maxBatchBytes: Int = 1 << 20

        public init(localID: NodeID, keys: EtcdClusterKeys) {
            self.localID = localID
            self.keys = keys
        }
    }

    /// How this node applies the log.
    public struct Applier: Sendable {
        /// One entry, in index order, exactly once per process (after a restore, from the next index).
        public var apply: @Sendable (_ index: UInt64, _ revision: Int64, _ data: [UInt8]) -> Void
        /// The state as of the last applied entry.
        public var snapshot: @Sendable () -> [UInt8]
        /// Replaces the state; throwing stops applying (the engine reports the failure).
        public var restore: @Sendable (_ state: [UInt8]) throws -> Void

        public init(apply: @escaping @Sendable (UInt64, Int64, [UInt8]) -> Void, snapshot: @escaping @Sendable () -> [UInt8],
                    restore: @escaping @Sendable ([UInt8]) throws -> Void) {
            self.apply = apply
            self.snapshot = snapshot
            self.restore = restore
        }
    }

    /// What the engine knows, as of its last etcd answer.
    public struct Status: Sendable, Hashable {
        public var isLeader: Bool
        public var leader: NodeID?
        /// The leader's election key create revision: the term and fencing value.
        public var term: Int64
        public var lastIndex: UInt64
        public var appliedIndex: UInt64
        public var config: EtcdMembershipConfig
        /// Whether etcd holds a cluster under the key.
        public var initialized: Bool
        /// The cluster under the key as this engine last read it (nil: none, or not read yet).
        public var cluster: ExternalClusterIdentity?
        /// Whether the engine has read the state under the key at least once since it started:
        /// until then ``initialized`` and ``config`` say nothing about etcd.
        public var synced: Bool
        /// Nodes whose lease-bound member record exists.
        public var live: Set<NodeID>
        /// Set once this node, having been a member, is no longer in the configuration.
        public var removed: Bool
        /// The leader when the configuration without this node was seen (nil: this node led).
        public var removedBy: NodeID?
        /// The last failure talking to etcd, cleared by the next success.
        public var lastError: String?
        /// Times following etcd failed since the engine started: a whole read of the state under
        /// the key, or the watch after it. Each is retried after ``Configuration/retryInterval``,
        /// so while etcd cannot be reached this counts the attempts to read it.
        public var failedReads: Int
        /// Why the engine stopped applying (a snapshot that does not restore, the cluster
        /// re-created under its key), if it did.
        public var failure: String?
        public var isStopped: Bool
    }

    /// A leader change, as ``leadershipChanges()`` publishes it.
    public struct Leadership: Sendable, Hashable {
        public var term: Int64
        public var leader: NodeID?
        public var isLocal: Bool
    }

    public let configuration: Configuration
    public let client: EtcdClient
    let applier: Applier
    let keeper: EtcdLeaseKeeper
    let election: EtcdElection
    let state: Mutex<EngineState>

    public init(configuration: Configuration, client: EtcdClient, applier: Applier) {
        self.configuration = configuration
        self.client = client
        self.applier = applier
        keeper = EtcdLeaseKeeper(client: client, ttl: configuration.leaseTTL)
        election = EtcdElection(client: client, prefix: configuration.keys.electionPrefix)
        state = Mutex(EngineState())
    }

    public var localID: NodeID { configuration.localID }
    var keys: EtcdClusterKeys { configuration.keys }

    // MARK: Reading

    public var status: Status {
        let leaseID = keeper.leaseID
        return state.withLock { state in
            let leaderKey = state.leaderCandidate
            let mine = state.leadership.map { lead in
                lead.lease == leaseID && leaderKey?.key == lead.key && leaderKey?.createRevision == lead.revision
            } ?? false
            // Like a Raft node outside the cluster, a node that is not (and was not) a member knows no leader.
            let follows = state.wasMember
            // Only a voter leads: one removed while it waited in etcd's election line does not.
            // A failed engine (it stopped applying) does not lead either.
            let leads = mine && state.config.voters.contains(configuration.localID) && !state.stopped && state.failure == nil
            // First in line is not yet leading: until its campaign returns (and it has read seq),
            // it refuses proposals, so it does not name itself leader. Others already name it
            // (and a forward to it gets a "leadership is changing" 503 in that short window).
            let first = leaderKey.flatMap { NodeID($0.text) }
            let leader = first == configuration.localID && !leads ? nil : first
            return Status(isLeader: leads, leader: follows ? leader : nil,
                          term: follows ? leaderKey?.createRevision ?? 0 : 0, lastIndex: state.lastIndex, appliedIndex: state.appliedIndex,
                          config: state.config, initialized: state.clusterRevision != nil,
                          cluster: state.clusterRevision == nil ? nil : state.clusterIdentity, synced: state.synced, live: Set(state.live.keys),
                          removed: state.removed, removedBy: state.removedBy, lastError: state.lastError, failedReads: state.failedReads,
                          failure: state.failure, isStopped: state.stopped)
        }
    }

    /// Every change of leader or term, as `transform` makes it; the stream ends when the engine stops.
    public func leadershipChanges<Change: Sendable>(_ transform: @escaping @Sendable (Leadership) -> Change) -> AsyncStream<Change> {
        let (stream, source) = AsyncStream<Change>.makeStream(bufferingPolicy: .bufferingNewest(64))
        let continuation = LeadershipSubscriber(yield: { source.yield(transform($0)) }, finish: { source.finish() })
        let id = state.withLock { state -> UInt64? in
            guard !state.stopped else { return nil }
            state.nextSubscriber += 1
            state.subscribers[state.nextSubscriber] = continuation
            return state.nextSubscriber
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        source.onTermination = { [weak self] _ in self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) } }
        return stream
    }

    /// Waits until the entry at `index` has been applied here (or the engine stopped).
    public func waitForApplied(_ index: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.appliedIndex >= index || state.stopped { return true }
                state.applyWaiters.append((index, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    // MARK: Stopping

    /// Marks the engine stopped: proposals fail, waiters and subscribers are released. ``run()``
    /// must be cancelled by its owner; the lease is revoked so others take over at once.
    public func stop(revokeLease: Bool) async {
        let (waiters, subscribers) = state.withLock { state in
            state.stopped = true
            defer {
                state.applyWaiters = []
                state.subscribers = [:]
            }
            return (state.applyWaiters.map(\.1), Array(state.subscribers.values))
        }
        for waiter in waiters { waiter.resume() }
        for subscriber in subscribers { subscriber.finish() }
        if revokeLease { await keeper.revoke() }
    }
}

// MARK: - EngineState

/// Everything the engine knows, guarded by one lock.
struct EngineState {
    /// Set once a whole read of the state under the key (``EtcdConsensusLog/resync()``) succeeded.
    var synced = false
    var clusterRevision: Int64?
    /// The `cluster` key's identity (its create revision is ``clusterRevision``).
    var clusterIdentity: ExternalClusterIdentity?
    /// The create revision of the cluster this node became a member of (the epoch its state is of).
    var epoch: Int64?
    var config = EtcdMembershipConfig()
    var configModRevision: Int64 = 0
    var seqModRevision: Int64 = 0
    var lastIndex: UInt64 = 0
    var appliedIndex: UInt64 = 0
    var snapshotIndex: UInt64 = 0
    /// Log entries seen but not yet applied (an index arrives before the ones before it).
    var pending: [UInt64: (revision: Int64, data: [UInt8])] = [:]
    var applyWaiters: [(UInt64, CheckedContinuation<Void, Never>)] = []
    /// Election keys: key → (create revision, value).
    var candidates: [String: EtcdKeyValue] = [:]
    var leadership: EtcdLeadership?
    var lastPublished: EtcdMembershipLeader?
    var live: [NodeID: [UInt8]] = [:]
    var wasMember = false
    var removed = false
    var removedBy: NodeID?
    var lastError: String?
    /// Failed reads of the whole state (``EtcdConsensusLog/resync()``) or of the watch after it.
    var failedReads = 0
    var failure: String?
    var stopped = false
    var subscribers: [UInt64: LeadershipSubscriber] = [:]
    var nextSubscriber: UInt64 = 0
    var proposals = ProposalQueue()
    /// The pending leadership transfer request (`transfer` key) and its mod revision.
    var transfer: (request: EtcdTransferRequest, modRevision: Int64)?

    /// The candidate with the lowest create revision: the leader.
    var leaderCandidate: EtcdKeyValue? { candidates.values.min { $0.createRevision < $1.createRevision } }

    /// Where `id` stands in the election: the lowest create revision among its keys.
    func candidateRevision(of id: NodeID) -> Int64? {
        candidates.values.filter { $0.text == id.rawValue }.map(\.createRevision).min()
    }
}

/// The leader as last published to subscribers.
struct EtcdMembershipLeader: Hashable {
    var term: Int64
    var leader: String?
}

/// One ``EtcdConsensusLog/leadershipChanges(_:)`` stream's ends.
struct LeadershipSubscriber: Sendable {
    let yield: @Sendable (EtcdConsensusLog.Leadership) -> Void
    let finish: @Sendable () -> Void
}
