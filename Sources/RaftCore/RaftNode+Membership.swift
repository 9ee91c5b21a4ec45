import DiscoCore

// MARK: - Peer progress

/// How far a member's log has come, as the leader sees it.
public struct PeerProgress: Sendable, Hashable {
    /// The highest index the member is known to hold (0: it has acknowledged nothing yet).
    public var match: UInt64
    /// Whether the member answered within the current check-quorum period (one election timeout).
    public var recentlyActive: Bool
    /// Whether it counts as caught up: it answered recently and holds the log up to the leader's
    /// commit index. Only a caught-up learner may be promoted.
    public var caughtUp: Bool

    public init(match: UInt64, recentlyActive: Bool, caughtUp: Bool) {
        self.match = match
        self.recentlyActive = recentlyActive
        self.caughtUp = caughtUp
    }
}

// MARK: - Removal

/// Why a node knows it is no longer a member of its group.
public struct Removal: Sendable, Hashable {
    /// The committed configuration entry that leaves the node out.
    public var configIndex: UInt64
    /// The member that said so (nil when the node found its removal in its own log).
    public var reportedBy: NodeID?

    public init(configIndex: UInt64, reportedBy: NodeID?) {
        self.configIndex = configIndex
        self.reportedBy = reportedBy
    }
}

// MARK: - Promotion rule

extension RaftNode {
    /// The leader's view of every other member (empty on followers).
    public var peerProgress: [NodeID: PeerProgress] {
        guard role == .leader else { return [:] }
        var result: [NodeID: PeerProgress] = [:]
        for (peer, pr) in progress {
            result[peer] = PeerProgress(match: pr.match, recentlyActive: pr.recentActive, caughtUp: isCaughtUp(pr))
        }
        return result
    }

    /// Whether `learner` may be promoted now: it is a learner, this node leads, and the learner
    /// has acknowledged the log up to the commit index and answered within the last election
    /// timeout (etcd's rule for promoting a learner, with the commit index as the bar).
    public func isCaughtUp(learner: NodeID) -> Bool {
        guard role == .leader, config.isLearner(learner), let pr = progress[learner] else { return false }
        return isCaughtUp(pr)
    }

    private func isCaughtUp(_ pr: Progress) -> Bool {
        pr.recentActive && pr.match > 0 && pr.match >= log.committed
    }

    /// Refuses a change that would give the group a voter that has not shown it holds the log:
    /// a node joins as a learner and becomes a voter only once caught up, never on a timer and
    /// never directly.
    func checkVoterReadiness(_ change: ConfigChange) throws(RaftError) {
        let candidate: NodeID
        switch change {
        case .promote(let id):
            candidate = id
        case .addVoter(let id):
            guard config.isLearner(id) || !options.requiresCaughtUpLearners else {
                throw RaftError(.invalidConfigChange,
                                "\(id) is not a member; add it as a learner first, it is promoted once it has caught up")
            }
            candidate = id
        case .addLearner, .remove:
            return
        }
        guard options.requiresCaughtUpLearners, config.isLearner(candidate) else { return }
        guard isCaughtUp(learner: candidate) else {
            let match = progress[candidate]?.match ?? 0
            let active = progress[candidate]?.recentActive ?? false
            throw RaftError(.learnerNotCaughtUp,
                            "learner \(candidate) is not caught up (match index \(match), commit index \(log.committed)"
                                + (active ? "" : ", no answer within the last election timeout")
                                + "); it becomes a voter once it has acknowledged the log up to the commit index")
        }
    }

    // MARK: Removal

    /// Why this node knows it was removed from its group, or nil: it led the group when its own
    /// removal committed, or a member answered with a committed configuration that is newer
    /// than any this node holds and leaves it out. A removed node never campaigns. (A committed
    /// configuration without this node in its own log is not proof: a node catching up after it
    /// was added again holds the old removal before the new addition.)
    public var removal: Removal? { removalNotice }

    /// On the leader, at each commit once the entry that leaves it out of the voters committed:
    /// sends the new commit index to the remaining members, tells the remaining voter that holds
    /// its whole log to campaign at once (TimeoutNow, which the followers' leases do not hold
    /// back; the lease ends with it), and steps down (``handOver(to:)``). When no voter holds the
    /// whole log yet, it catches the most advanced one up first, as ``transferLeadership(to:)``
    /// does (refusing proposals meanwhile), and steps down when that transfer ends or after an
    /// election timeout at most.
    mutating func handOverAfterOwnRemoval() {
        if leadTransferee == nil {
            // The removal has just committed: every member hears it now, a heartbeat carrying the
            // commit index to a member whose flow control holds the append back.
            for peer in config.members where peer != id && !sendAppend(to: peer, allowEmpty: true) {
                let match = progress[peer]?.match ?? 0
                send(.heartbeat(commit: min(match, log.committed), context: reads.latestRound), to: peer)
            }
        } else {
            // A later commit while a voter catches up: sent as after any commit, within the flow
            // control (a heartbeat per paused member on each commit would answer with one more
            // append each time, past the in-flight bound).
            broadcastAppend()
        }
        let others = config.voters.filter { $0 != id }.sorted()
        let upToDate = others.filter { progress[$0]?.match == log.lastIndex }
        if let successor = upToDate.first(where: { progress[$0]?.recentActive == true }) ?? upToDate.first {
            handOver(to: successor)
            return
        }
        guard leadTransferee == nil else { return }  // already catching a voter up
        let byMatch = others.sorted { ((progress[$0]?.match ?? 0), $1) > ((progress[$1]?.match ?? 0), $0) }
        guard let target = byMatch.first(where: { progress[$0]?.recentActive == true }) ?? byMatch.first else {
            stepDownAfterOwnRemoval()
            return
        }
        leadTransferee = target  // the appends above are on their way; handleAppendResponse sends TimeoutNow
        transferElapsed = 0
    }

    /// Tells `successor`, a remaining voter that holds this removed leader's whole log, to campaign
    /// at once, and steps down for good; the TimeoutNow goes again on the following heartbeat
    /// ticks in case it was lost (``retryHandover()``).
    mutating func handOver(to successor: NodeID) {
        sendTimeoutNow(to: successor)
        stepDownAfterOwnRemoval()
        handoverRetry = (successor, 0)
    }

    /// On a removed leader that handed over, at each tick: sends the same TimeoutNow again every
    /// heartbeat interval for one election timeout, then stops. Any message of a newer term ends
    /// it sooner (``becomeFollower(term:leader:)``): a member already in a newer term answers a
    /// TimeoutNow of this one with its term (with check-quorum or pre-vote, as it answers a stale
    /// append). A retry is a duplicate of the first TimeoutNow (same term, same successor; the
    /// node cannot campaign, so its term moves only when it hears a newer one, which ends the
    /// retries): a member in a newer term ignores it, and a successor still in this term
    /// campaigns in the next, which it cannot win if a leader of that term was elected already.
    mutating func retryHandover() {
        guard var retry = handoverRetry else { return }
        retry.ticks += 1
        guard role == .follower, retry.ticks <= options.electionTicks else {
            handoverRetry = nil
            return
        }
        handoverRetry = retry
        if retry.ticks % options.heartbeatTicks == 0 { send(.timeoutNow, to: retry.successor) }
    }

    /// Whether this leader's removal from the voters has committed (it leads only to hand over).
    var ownRemovalCommitted: Bool { role == .leader && !config.isVoter(id) && log.committed >= configIndex }

    /// Steps down for good once this leader's removal committed (``becomeFollower(term:leader:)``
    /// records the removal).
    mutating func stepDownAfterOwnRemoval() {
        becomeFollower(term: term, leader: nil)
    }

    /// Handles `.removed(configIndex)` from `sender`.
    mutating func handleRemovalNotice(configIndex notice: UInt64, from sender: NodeID) {
        guard removalNotice == nil, config.contains(id), notice > configIndex else { return }
        removalNotice = Removal(configIndex: notice, reportedBy: sender)
        if role == .leader { reads.failAll(leader: nil, into: &readStates) }
        role = .follower
        leader = nil
        votes = [:]
        progress = [:]
        leadTransferee = nil
    }

    /// Tells the sender of a campaign or an answer that it is not a member, when this node's
    /// committed configuration leaves it out. The message is still handled as usual afterwards
    /// (a node that is merely new to this member ignores the notice).
    mutating func noticeNonMember(_ message: Message) {
        switch message.body {
        case .preVote, .vote, .appendResponse, .heartbeatResponse: break
        default: return
        }
        guard !config.members.isEmpty, !config.contains(message.from), configIndex > 0, configIndex <= log.committed else { return }
        send(.removed(configIndex: configIndex), to: message.from)
    }

    /// Records the members a configuration entry at `index` drops, so the leader tells them once
    /// the change commits.
    mutating func noteRemovedMembers(from old: ClusterConfig, at index: UInt64) {
        for member in old.members where member != id && !config.contains(member) {
            pendingRemovalNotices[member] = index
        }
    }

    /// On the leader: tells removed members once their removal is committed, and again with
    /// each heartbeat for a few election timeouts (the first notice may be lost).
    mutating func sendRemovalNotices() {
        guard role == .leader else { return }
        for (member, index) in pendingRemovalNotices.sorted(by: { $0.key < $1.key }) where index <= log.committed {
            pendingRemovalNotices[member] = nil
            if !config.contains(member) { removalReminders[member] = (index, 4 * options.electionTicks) }
        }
        for (member, reminder) in removalReminders.sorted(by: { $0.key < $1.key }) {
            send(.removed(configIndex: reminder.configIndex), to: member)
            removalReminders[member] = reminder.ticksLeft > options.heartbeatTicks
                ? (reminder.configIndex, reminder.ticksLeft - options.heartbeatTicks) : nil
        }
    }

    /// A learner that has heard from no leader for an election timeout reminds the voters that it
    /// exists (an empty heartbeat answer): a leader resumes replicating to it, and a member whose
    /// committed configuration no longer has it answers that it was removed.
    mutating func remindVotersOfLearner() {
        guard removal == nil, config.isLearner(id) else { return }
        for voter in config.voters where voter != id {
            send(.heartbeatResponse(context: 0), to: voter)
        }
    }
}
