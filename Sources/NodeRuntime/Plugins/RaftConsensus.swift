import DiscoCore
import DiscoRaft

// MARK: - RaftConsensus

/// ``ConsensusEngine`` backed by the embedded Raft node (``RaftNodeShell``).
public final class RaftConsensus: ConsensusEngine {
    public let shell: RaftNodeShell

    public init(shell: RaftNodeShell) { self.shell = shell }

    public var localID: NodeID { shell.id }

    public var internodeCounters: InternodeCounters? {
        let transport = shell.transportMetrics
        return InternodeCounters(messagesSent: transport.messagesSent, messagesReceived: transport.messagesReceived,
                                 messagesDropped: transport.messagesDropped, connectionsRefused: transport.badFrames,
                                 clusterRefused: transport.clusterRefused, unlabelledAccepted: transport.unlabelledConnections)
    }

    public var status: ConsensusStatus {
        let raft = shell.status
        return ConsensusStatus(
            role: Self.role(raft.role), term: raft.term, leader: raft.leader, commitIndex: raft.commitIndex,
            appliedIndex: raft.appliedIndex, lastIndex: raft.lastIndex, voters: raft.config.voters,
            learners: raft.config.learners, hasState: raft.hasState, isStopped: raft.isStopped, failure: raft.failure,
            peers: raft.peers.mapValues { PeerReplication(matchIndex: $0.match, recentlyActive: $0.recentlyActive, caughtUp: $0.caughtUp) },
            removal: raft.removal.map { RemovalNotice(reportedBy: $0.reportedBy, configIndex: $0.configIndex) },
            leaderContact: Self.leaderContact(isLeader: raft.isLeader, lastLeaderContact: raft.lastLeaderContact))
    }

    /// The status's ``ConsensusStatus/leaderContact``, from the two fields of the shell's status
    /// it needs (read under its lock, no copy of the status).
    public var leaderContact: LeaderContact {
        let (isLeader, lastLeaderContact) = shell.leaderContact
        return Self.leaderContact(isLeader: isLeader, lastLeaderContact: lastLeaderContact)
    }

    static func leaderContact(isLeader: Bool, lastLeaderContact: ContinuousClock.Instant?) -> LeaderContact {
        isLeader ? .leading : lastLeaderContact.map { .heard(at: $0) } ?? .never
    }

    static func role(_ role: RaftRole) -> ConsensusRole {
        switch role {
        case .follower: .follower
        case .preCandidate: .preCandidate
        case .candidate: .candidate
        case .leader: .leader
        }
    }

    public func bootstrap(voters: [NodeID]) async throws {
        try await mapping { try await shell.bootstrap(voters: voters) }
        // The founding node campaigns at once instead of waiting out an election timeout.
        shell.campaign()
    }

    public func propose(_ data: [UInt8]) async throws -> UInt64 {
        try await mapping { try await shell.propose(data) }
    }

    public func addLearner(_ id: NodeID) async throws {
        _ = try await mapping { try await shell.changeMembership(.addLearner(id)) }
    }

    public func promote(_ id: NodeID) async throws {
        _ = try await mapping { try await shell.changeMembership(.promote(id)) }
    }

    public func removeMember(_ id: NodeID) async throws {
        _ = try await mapping { try await shell.changeMembership(.remove(id)) }
    }

    /// A read-index round: a quorum of voters answers this leader's heartbeat.
    public func confirmLeadership() async throws {
        _ = try await mapping { try await shell.readIndex() }
    }

    /// The leader's commit index as this node last heard it (``RaftStatus/leaderCommitIndex``):
    /// its own on the leader; on a follower, the one the leader's last append carried, which is
    /// ahead of the follower's own commit index while its log is behind (a follower only
    /// commits entries it holds, so a node that just joined or restarted would otherwise look
    /// caught up with the part of the log it has). It is not a read-index round to the leader:
    /// that needs a request the Raft protocol here does not have (a member of an older version
    /// could not read it), and readiness needs "caught up with what the leader had committed"
    /// to within a heartbeat (the leader sends one at least every heartbeat interval), not a
    /// linearizable read point. What it misses at worst is what the leader committed since its
    /// last append to this node; a heartbeat carries the commit index only up to what the leader
    /// knows this node holds, so a member that has heard only a heartbeat since it started (the
    /// leader answers its reply with an append when it is behind) may look caught up for that
    /// one round trip.
    public func catchUpTarget() async throws -> UInt64 {
        shell.status.leaderCommitIndex
    }

    public func transferLeadership(to target: NodeID?) async throws -> NodeID {
        try await mapping { try await shell.transferLeadership(to: target) }
    }

    public func leadershipChanges() -> AsyncStream<ConsensusLeadership> {
        AsyncStream.mapping(shell.leadershipChanges()) { change in
            ConsensusLeadership(term: change.term, leader: change.leader, isLocal: change.isLocal)
        }
    }

    public func shutdown(transferLeadership: Bool) async {
        await shell.shutdown(transferLeadership: transferLeadership)
    }

    /// Runs a shell request, translating its errors into ``ConsensusError``.
    private func mapping<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RaftShellError {
            let code: ConsensusError.Code = switch error.code {
            case .notLeader: .notLeader
            // A transfer that did not complete leaves this node leading: retrying is safe.
            case .configChangePending, .transferInProgress, .transferFailed: .busy
            case .learnerNotCaughtUp: .learnerBehind
            case .invalidArgument: .invalid
            case .dropped: .notCommitted
            case .shutDown: .stopped
            case .outcomeUnknown, .leadershipLost: .unknown
            case .cancelled: .cancelled
            default: .failed
            }
            throw ConsensusError(code, error.message, leader: error.leader)
        }
    }
}
