import DiscoCore

// MARK: - Elections

extension RaftNode {
    mutating func tickElection() {
        retryHandover()
        electionElapsed += 1
        guard electionElapsed >= randomizedElectionTimeout else { return }
        if isPromotable {
            electionElapsed = 0
            startCampaign(preVote: options.preVote, transfer: false)
        } else {
            // A node that hears nothing and cannot campaign (a learner, a removed node, a node whose
            // log does not hold its own addition yet) names no leader; a learner reminds the
            // voters every timeout.
            leader = nil
            if config.isLearner(id), (electionElapsed - randomizedElectionTimeout) % options.electionTicks == 0 {
                remindVotersOfLearner()
            }
        }
    }

    mutating func tickLeader() {
        lease.tick(electionTicks: options.electionTicks)
        heartbeatElapsed += 1
        electionElapsed += 1
        if leadTransferee != nil {
            transferElapsed += 1
            if transferElapsed >= options.electionTicks {
                leadTransferee = nil
                if ownRemovalCommitted {
                    stepDownAfterOwnRemoval()
                    return
                }
            }
        }
        for peer in config.members where peer != id {
            guard var pr = progress[peer], pr.state == .snapshot else { continue }
            pr.snapshotTicks += 1
            if pr.snapshotTicks >= options.electionTicks { pr.becomeProbe() }
            progress[peer] = pr
        }
        if electionElapsed >= options.electionTicks {
            electionElapsed = 0
            if options.checkQuorum, !quorumRecentlyActive() {
                becomeFollower(term: term, leader: nil)
                return
            }
            for peer in progress.keys.sorted() { progress[peer]?.recentActive = false }
        }
        if heartbeatElapsed >= options.heartbeatTicks {
            heartbeatElapsed = 0
            broadcastHeartbeat()
            if !removalReminders.isEmpty || !pendingRemovalNotices.isEmpty { sendRemovalNotices() }
        }
    }

    private func quorumRecentlyActive() -> Bool {
        let active = config.voters.filter { $0 == id || progress[$0]?.recentActive == true }.count
        return active >= config.quorum
    }

    // MARK: Role changes

    mutating func becomeFollower(term newTerm: UInt64, leader newLeader: NodeID?) {
        // A leader whose own removal committed knows it was removed, however it steps down.
        if ownRemovalCommitted, !config.contains(id), removalNotice == nil {
            removalNotice = Removal(configIndex: configIndex, reportedBy: nil)
        }
        if newTerm > term {
            term = newTerm
            vote = nil
        }
        if role == .leader { reads.failAll(leader: newLeader, into: &readStates) }
        role = .follower
        leader = newLeader
        resetCommonState()
    }

    private mutating func resetCommonState() {
        electionElapsed = 0
        heartbeatElapsed = 0
        resetRandomizedElectionTimeout()
        votes = [:]
        progress = [:]
        leadTransferee = nil
        lease = LeaderLease()
        pendingRemovalNotices = [:]
        removalReminders = [:]
        handoverRetry = nil
    }

    mutating func startCampaign(preVote: Bool, transfer: Bool) {
        guard isPromotable else { return }
        if preVote {
            if role == .leader { return }
            role = .preCandidate
            leader = nil
            resetCommonState()
        } else {
            if role == .leader { reads.failAll(leader: nil, into: &readStates) }
            term += 1
            vote = id
            role = .candidate
            leader = nil
            resetCommonState()
        }
        votes[id] = true
        if tallyVotes() { return }
        let campaignTerm = preVote ? term + 1 : term
        for peer in config.voters where peer != id {
            let body: MessageBody = preVote
                ? .preVote(lastIndex: log.lastIndex, lastTerm: log.lastTerm)
                : .vote(lastIndex: log.lastIndex, lastTerm: log.lastTerm, transfer: transfer)
            send(body, to: peer, term: campaignTerm)
        }
    }

    /// Counts votes; wins or gives up when the outcome is decided. Returns whether it was.
    private mutating func tallyVotes() -> Bool {
        let granted = config.voters.filter { votes[$0] == true }.count
        let rejected = config.voters.filter { votes[$0] == false }.count
        if granted >= config.quorum {
            if role == .preCandidate {
                startCampaign(preVote: false, transfer: false)
            } else {
                becomeLeader()
            }
            return true
        }
        if rejected > config.voters.count - config.quorum {
            becomeFollower(term: term, leader: nil)
            return true
        }
        return false
    }

    mutating func becomeLeader() {
        role = .leader
        leader = id
        resetCommonState()
        for member in config.members where member != id {
            progress[member] = Progress(next: log.lastIndex + 1)
        }
        appendAsLeader(kind: .noop, data: [])
    }

    // MARK: Vote requests

    /// Whether this node still follows a live leader and so ignores (pre)vote requests.
    var inLease: Bool {
        options.checkQuorum && leader != nil && electionElapsed < options.electionTicks
    }

    mutating func handleVoteRequest(_ message: Message, preVote: Bool, lastIndex: UInt64, lastTerm: UInt64) {
        let canVote = vote == message.from || (vote == nil && leader == nil) || (preVote && message.term > term)
        let granted = canVote && log.isUpToDate(lastIndex: lastIndex, lastTerm: lastTerm)
        let reply: MessageBody = preVote ? .preVoteResponse(granted: granted) : .voteResponse(granted: granted)
        send(reply, to: message.from, term: granted ? message.term : term)
        if granted, !preVote {
            electionElapsed = 0
            vote = message.from
        }
    }

    mutating func handleVoteResponse(_ message: Message, preVote: Bool, granted: Bool) {
        if preVote {
            guard role == .preCandidate, message.term == term + 1 || (!granted && message.term == term) else { return }
        } else {
            guard role == .candidate, message.term == term else { return }
        }
        guard config.isVoter(message.from) else { return }
        votes[message.from] = granted
        _ = tallyVotes()
    }
}
