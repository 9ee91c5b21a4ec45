import DiscoCore

// MARK: - ReadIndexQueue

/// Linearizable reads waiting for the leader to confirm it is still the leader: each read
/// records the commit index when it arrived and the heartbeat round that must be acknowledged by
/// a quorum before it may be served.
struct ReadIndexQueue: Sendable {
    struct Pending: Sendable {
        var context: UInt64
        var index: UInt64
        var round: UInt64
        var acks: Set<NodeID>
    }

    /// Reads that arrived before the leader committed an entry of its term.
    var waiting: [UInt64] = []
    var pending: [Pending] = []
    private(set) var latestRound: UInt64 = 0

    mutating func nextRound() -> UInt64 {
        latestRound += 1
        return latestRound
    }

    mutating func acknowledge(round: UInt64, from peer: NodeID) {
        for position in pending.indices where pending[position].round <= round {
            pending[position].acks.insert(peer)
        }
    }

    /// Removes and returns, in order, the reads acknowledged by `quorum` voters of `voters`.
    mutating func takeConfirmed(voters: [NodeID], quorum: Int) -> [Pending] {
        var confirmed: [Pending] = []
        while let first = pending.first, voters.filter({ first.acks.contains($0) }).count >= quorum {
            confirmed.append(pending.removeFirst())
        }
        return confirmed
    }

    mutating func failAll(leader: NodeID?, into states: inout [ReadState]) {
        for context in waiting { states.append(ReadState(context: context, outcome: .notLeader(leader: leader))) }
        for read in pending { states.append(ReadState(context: read.context, outcome: .notLeader(leader: leader))) }
        waiting = []
        pending = []
    }
}

// MARK: - ReadIndex

extension RaftNode {
    /// Asks for a linearizable read point. The answer arrives in ``Ready/readStates`` with the same
    /// `context`: once the state machine has applied the returned index, a read reflects every
    /// write committed before this call.
    public mutating func readIndex(context: UInt64) {
        guard fault == nil else { return }
        guard role == .leader else {
            readStates.append(ReadState(context: context, outcome: .notLeader(leader: leader)))
            return
        }
        guard committedInCurrentTerm else {
            reads.waiting.append(context)
            return
        }
        startRead(context: context)
    }

    private mutating func startRead(context: UInt64) {
        let leaseHolds = options.leaseReads
            && lease.holds(leader: id, voters: config.voters, quorum: config.quorum, electionTicks: options.electionTicks)
        if leaseHolds || config.voters == [id] {
            readStates.append(ReadState(context: context, outcome: .ready(index: log.committed)))
            return
        }
        let round = reads.nextRound()
        reads.pending.append(.init(context: context, index: log.committed, round: round, acks: [id]))
        broadcastHeartbeat()
    }

    /// Serves reads whose heartbeat round a quorum acknowledged; starts reads that waited for the
    /// leader's first commit.
    mutating func releaseReads() {
        guard role == .leader else { return }
        if committedInCurrentTerm, !reads.waiting.isEmpty {
            let waiting = reads.waiting
            reads.waiting = []
            for context in waiting { startRead(context: context) }
        }
        for read in reads.takeConfirmed(voters: config.voters, quorum: config.quorum) {
            readStates.append(ReadState(context: read.context, outcome: .ready(index: read.index)))
        }
    }
}

// MARK: - Leadership transfer and membership

extension RaftNode {
    /// Hands leadership to `target`: once it has the whole log it is told to campaign at once.
    /// Proposals are refused until the transfer ends (or is abandoned after an election timeout).
    public mutating func transferLeadership(to target: NodeID) throws(RaftError) {
        if let fault { throw fault }
        guard role == .leader else { throw RaftError(.notLeader, "\(id) is not the leader") }
        guard target != id else { return }
        guard config.isVoter(target) else {
            throw RaftError(.invalidArgument, "\(target) is not a voter; leadership can only go to a voter")
        }
        leadTransferee = target
        transferElapsed = 0
        if progress[target]?.match == log.lastIndex {
            sendTimeoutNow(to: target)
        } else {
            sendAppend(to: target, allowEmpty: true)
        }
    }

    /// Tells the transfer's target to campaign at once. Its campaign's votes ignore the
    /// followers' leases, so this leader's lease ends here for the rest of its term.
    mutating func sendTimeoutNow(to target: NodeID) {
        lease.handedOff = true
        send(.timeoutNow, to: target)
    }

    /// Proposes a single-server membership change. It takes effect on each node when appended;
    /// only one may be uncommitted at a time. A node joins as a learner (`addLearner`) and is
    /// promoted only once caught up (``isCaughtUp(learner:)``); `addVoter` applies to learners
    /// only, with the same rule. Returns the config entry's index.
    @discardableResult
    public mutating func proposeConfigChange(_ change: ConfigChange) throws(RaftError) -> UInt64 {
        try checkCanPropose()
        guard configIndex <= log.committed, committedInCurrentTerm else {
            throw RaftError(.configChangePending,
                            "the previous membership change (index \(configIndex)) or this leader's first entry is not committed yet")
        }
        let newConfig = try config.applying(change)
        try checkVoterReadiness(change)
        return appendAsLeader(kind: .config, data: RaftCodec.encode(newConfig))
    }
}
