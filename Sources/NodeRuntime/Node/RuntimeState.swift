import Bootstrap
import DiscoCore
import DiscoNet

// MARK: - RuntimeState

/// The node's mutable bookkeeping, behind one lock in ``Node``.
struct RuntimeState: Sendable {
    /// Set once `run()` was called (a node runs once).
    var ran = false
    /// Set when the graceful stop begins.
    var stopping = false
    var httpServer: HTTPServer?
    var bootstrap: BootstrapShell?
    var keeper: LeaderRecordKeeper?
    var registry: (any LeaderRegistry)?
    /// Built on first lookup, kept for the node's lifetime.
    var addressProvider: (any AddressProvider)?
    /// How formation is going, for /status.
    var formation = FormationState.starting
    var formationDetail: String?
    /// Set once this start recorded its membership of the cluster in etcd (`etcd-member.json`).
    var membershipRecorded = false
    /// The cluster that record names (nil: its identity was not known yet when it was written).
    var recordedCluster: ExternalClusterIdentity?
    var discoveryTargets: [PeerAddress] = []
    var discoveryError: String?
    var lastLeader: NodeID?
    /// On the leader: what it has seen of each learner (promotion, reporting, reaping).
    var learners: [NodeID: LearnerWatch] = [:]
    /// Set once this node knows it was removed from the cluster.
    var removal: NodeRemoval?
    /// The epoch a leader named when it accepted this node's join (before its state arrives).
    var joinedEpoch: UInt64?
    /// Rounds without a leader, for ``Node/checkMembershipWhileLeaderless()``.
    var membershipCheck = MembershipCheckTimer()
    /// The refusals those questions met, for their log.
    var membershipRefusals = MembershipRefusalLog()
    /// Consumer cursors waiting to be deleted, and the removed members whose they may be.
    var cursorCollection = CursorCollectionState()
    /// Refused notifies already logged (each is said once).
    var refusalsLogged: Set<String> = []
}
