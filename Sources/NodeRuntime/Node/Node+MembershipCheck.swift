import Bootstrap
import DiscoCore
import Synchronization

// MARK: - Asking whether this node is still a member

/// How long a node that is not a voter in its own Raft configuration may go without a leader
/// before it asks the cluster whether it is still a member, and how often it asks again (with
/// etcd: how long a clustered node may go without seeing itself in etcd's configuration).
struct MembershipCheckTimer: Sendable, Hashable {
    /// Reconcile rounds without a leader so far (0 while a leader is known).
    var leaderlessRounds = 0
    /// Times it was time to ask, since the node started.
    var questions = 0

    /// Rounds between two questions (at the default 250 ms reconcile interval: 2 seconds).
    static let roundsBetweenQuestions = 8

    /// Counts one reconcile round; true when it is time to ask.
    mutating func round(leaderless: Bool) -> Bool {
        guard leaderless else {
            leaderlessRounds = 0
            return false
        }
        leaderlessRounds += 1
        guard leaderlessRounds % Self.roundsBetweenQuestions == 0 else { return false }
        questions += 1
        return true
    }
}

/// The refusals the membership check meets, each (target and reason) logged at once and then
/// at most once per ``repeatInterval`` while it repeats, with how often it came meanwhile: a
/// node asking every 2 seconds for as long as it has no leader would otherwise say the same
/// line 30 times a minute.
struct MembershipRefusalLog: Sendable {
    /// Shortest time between two lines about one refusal.
    static let repeatInterval = Duration.seconds(60)

    /// The time the interval is measured with: a duration since a fixed origin, from a monotonic
    /// clock (a test may put its own here before the node runs).
    var now: @Sendable () -> Duration = CursorCollectionState.continuousTime()
    private var throttle = KeyedLogThrottle<String>(interval: Self.repeatInterval, capacity: 64)

    /// The line to log for `refusal`, met now, or nil to stay quiet.
    mutating func line(for refusal: BootstrapClientError, node: NodeID) -> String? {
        let decision = throttle.shouldLog("\(refusal.code) \(refusal.target)", detail: refusal.detail, at: now())
        guard decision.log else { return nil }
        let repeated = decision.suppressed > 0
            ? " (\(decision.suppressed) more time\(decision.suppressed == 1 ? "" : "s") since it was last logged)" : ""
        return "asking whether node \(node) is still a member: \(refusal.target) refused: \(refusal.detail)\(repeated)"
    }
}

extension Node {
    /// A voter that hears from no leader campaigns, and the members answer a removed one that it
    /// was removed; a learner reminds the voters of its configuration. A node that was removed
    /// before its Raft log had the entry that added it (it joined, and the leader removed it before
    /// it caught up: the leader sends nothing to a removed node) has no such configuration, so
    /// nobody in Raft would ever tell it. Such a node, and a learner whose configuration names no
    /// voter it can reach, asks through the API instead, as a restarted node does (``rejoin()``):
    /// a join carrying the cluster's epoch, which only the leader answers (a follower redirects),
    /// with 410 only when a quorum has just confirmed it leads and its configuration lacks this
    /// node. A member that is merely cut off is never told it was removed: its leader has it.
    /// (Raft stops naming a leader it has not heard from for an election timeout, so a node that
    /// heard the leader once before its removal asks too.) The questions go out to every target
    /// at once (``BootstrapClient/joinFirstAnswer(targets:request:timeout:width:)``), in this
    /// reconcile round, and the first definitive answer decides: a target that never answers
    /// holds up nothing. A refusal that repeats is logged once a minute, with its count. With etcd
    /// the node asks etcd (``checkExternalMembership(_:)``).
    func checkMembershipWhileLeaderless() async {
        if let external = consensus.externalState { return await checkExternalMembership(external) }
        let status = consensus.status
        let (asks, joinedEpoch) = runtime.withLock { state in
            let leaderless = status.leader == nil && !status.voters.contains(id) && state.removal == nil
                && !state.stopping && state.formation == .clustered
            return (state.membershipCheck.round(leaderless: leaderless), state.joinedEpoch)
        }
        guard asks, let epoch = store.epoch ?? joinedEpoch else { return }
        var targets = Set(configuration.formation.join.map(\.withoutScheme))
        for (member, entry) in book.all where member != id { targets.insert(entry.apiAddress) }
        targets.remove(apiAddress)
        guard !targets.isEmpty else { return }
        let join = JoinRequest(node: localPeer, cluster: clusterName, epoch: epoch, nodeKey: nodeKeyText)
        let answer = await formationClient.joinFirstAnswer(targets: targets.sorted(), request: join,
                                                           timeout: configuration.formation.notifyTimeout)
        switch answer {
        case .refused(let error) where error.code == .removed:
            guard consensus.status.leader == nil else { return }
            logger.error("\(error.target) answered that this node is no longer a member: \(error.detail)")
            await noticeRemoval(RemovalNotice(reportedBy: nil, configIndex: 0))
        case .refused(let error):
            if let line = runtime.withLock({ $0.membershipRefusals.line(for: error, node: id) }) { logger.warning(line) }
        case .failed(let failures):
            logger.debug("asking whether node \(id) is still a member: no answer: \(failures.map(\.description).joined(separator: "; "))")
        case .joined:
            break
        }
    }

    /// Replaces the clock the membership check's refusal log is timed with (before ``run()``).
    func useMembershipRefusalClock(_ now: @escaping @Sendable () -> Duration) {
        runtime.withLock { $0.membershipRefusals.now = now }
    }
}

// MARK: - Asking etcd whether this node is still a member

extension Node {
    /// With an engine whose state lives outside the node (etcd), the engine reports a removal
    /// once it sees a configuration without this node after one with it. A node whose join was
    /// accepted while it could not read etcd, and that was removed before it could (or whose
    /// watch brought its addition and its removal together), never sees one with it: the engine
    /// takes the configuration for that of a cluster the node has not entered yet, and nobody
    /// else would tell it. So a clustered node whose engine's configuration does not name it
    /// reads etcd's membership itself every 8 reconcile rounds (2 s by default): its join, or
    /// its bootstrap, was written to etcd before it was accepted, so a read since names it
    /// unless it was removed. An unanswered read says nothing: a node that is merely cut off
    /// from etcd is never told it was removed.
    private func checkExternalMembership(_ external: ExternalStateStatus) async {
        let status = consensus.status
        let asks = runtime.withLock { state in
            let unseen = status.stateKnown && !status.members.contains(id) && status.removal == nil && state.removal == nil
                && !state.stopping && state.formation == .clustered
            return state.membershipCheck.round(leaderless: unseen)
        }
        guard asks else { return }
        switch await consensus.readExternalMembership() {
        case false?:
            guard !consensus.status.members.contains(id) else { return }
            let source = "the membership under \(external.key) in \(external.location)"
            logger.error("\(source) does not name this node: it was removed before it saw itself a member")
            await noticeRemoval(RemovalNotice(reportedBy: nil, configIndex: 0), readFrom: source)
        case true?:
            logger.debug("asking whether node \(id) is still a member: \(external.location) names it; waiting for the watch to show it")
        case nil:
            logger.debug("asking whether node \(id) is still a member: \(external.location) could not be read (\(external.lastError ?? "no error"))")
        }
    }
}
