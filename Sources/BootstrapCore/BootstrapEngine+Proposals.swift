import DiscoCore

// MARK: - Incoming notifies

extension BootstrapEngine {
    /// Answers a `POST /notify` from another node, learning about it.
    public mutating func handleNotify(_ request: NotifyRequest, now: Duration) -> (NotifyReply, [BootstrapEffect]) {
        if request.cluster != settings.cluster || request.expect != settings.expect {
            return (.mismatch("node \(request.sender.id) runs with cluster \(request.cluster.debugDescription) and "
                + "-bootstrap-expect \(request.expect), this node (\(settings.me.id)) with cluster "
                + "\(settings.cluster.debugDescription) and -bootstrap-expect \(settings.expect); every node must use the same values"),
                [])
        }
        if outcome != nil { return (.clustered(responder: settings.me), []) }
        if request.sender.voter { learn(request.sender, firstHand: true) }
        request.known.forEach { learn($0, firstHand: false) }
        let reply = NotifyReply.forming(responder: settings.me, known: freshVoters())
        return (reply, considerProposing())
    }

    // MARK: Proposing

    /// Proposes when this voter knows `expect` voters, has the smallest ID among them, and has
    /// heard every target (or waited ``Settings/graceRounds`` rounds for the silent ones).
    mutating func considerProposing() -> [BootstrapEffect] {
        guard case .seeking = phase, settings.me.voter, completedRounds > 0 else { return [] }
        let voters = freshVoters()
        guard voters.count >= settings.expect, voters.first?.id == settings.me.id else { return [] }
        let silent = Set(targets).subtracting(targetsHeard)
        guard silent.isEmpty || roundsWithQuorum >= settings.graceRounds else { return [] }
        let proposal = Proposal(id: ProposalID(proposer: settings.me.id, sequence: nextSequence), cluster: settings.cluster,
                                expect: settings.expect, voters: Array(voters.prefix(settings.expect)))
        nextSequence += 1
        let others = proposal.voters.filter { $0.id != settings.me.id }
        if others.isEmpty {
            bootstrappedProposal = proposal.id
            phase = .finished(.bootstrapped)
            return [.persistPromise(proposal), .bootstrap(voters: proposal.voters),
                    .log("bootstrap: expect is 1; bootstrapping as a single node"), .finished(.bootstrapped)]
        }
        phase = .proposing(proposal, accepted: [], awaiting: Set(others.map(\.id)))
        return [.persistPromise(proposal),
                .log("bootstrap: proposing the cluster \(proposal.id) with voters [\(proposal.voters.map(\.description).joined(separator: ", "))]"),
                .propose(proposal, to: others)]
    }

    /// The answer of one proposed voter (`nil`: no answer in time).
    public mutating func proposalAnswered(from peer: NodeID, id: ProposalID, reply: ProposalReply?, now: Duration) -> [BootstrapEffect] {
        guard case .proposing(let proposal, var accepted, var awaiting) = phase, proposal.id == id,
            awaiting.remove(peer) != nil
        else { return [] }
        guard reply == .accepted else {
            let reason: String
            if case .refused(let why)? = reply { reason = why } else { reason = "no answer" }
            phase = .seeking
            // Count the peer as silent until it is heard again, so the next proposal can skip it.
            if let heard = known[peer]?.heardRound { known[peer]?.heardRound = min(heard, round - settings.freshRounds + 1) }
            return [.abandon(proposal.id, to: proposal.voters.filter { accepted.contains($0.id) }),
                    .persistPromise(nil),
                    .log("bootstrap: \(peer) did not accept proposal \(proposal.id): \(reason); will retry")]
        }
        accepted.insert(peer)
        guard awaiting.isEmpty else {
            phase = .proposing(proposal, accepted: accepted, awaiting: awaiting)
            return []
        }
        bootstrappedProposal = proposal.id
        phase = .finished(.bootstrapped)
        return [.bootstrap(voters: proposal.voters),
                .log("bootstrap: all \(proposal.voters.count) voters promised; bootstrapping \(proposal.id)"),
                .finished(.bootstrapped)]
    }

    /// The shell could not record this node's own proposal `id` durably: it is given up unsent.
    /// Bootstrapped without its record, the proposal would be disowned after a restart (a node
    /// vouches only for the proposal its promise file records), releasing its promised nodes.
    public mutating func proposalNotRecorded(_ id: ProposalID, reason: String, now: Duration) -> [BootstrapEffect] {
        guard case .proposing(let proposal, _, _) = phase, proposal.id == id else { return [] }
        phase = .seeking
        return [.log("bootstrap: could not record proposal \(id) (\(reason)); not sending it; will retry")]
    }

    // MARK: Incoming proposals

    /// Answers a proposal. When the answer is `.accepted`, the returned effects begin with
    /// ``BootstrapEffect/persistPromise(_:)``, which the shell must complete before replying.
    public mutating func handleProposal(_ proposal: Proposal, now: Duration) -> (ProposalReply, [BootstrapEffect]) {
        guard proposal.cluster == settings.cluster, proposal.expect == settings.expect else {
            return (.refused("cluster \(settings.cluster.debugDescription) expect \(settings.expect) here, proposal has "
                + "cluster \(proposal.cluster.debugDescription) expect \(proposal.expect)"), [])
        }
        guard proposal.voters.contains(where: { $0.id == settings.me.id }) else {
            return (.refused("this node is not among the proposed voters"), [])
        }
        // This node sends its own proposals only to the others: one in its name is not its own.
        guard proposal.id.proposer != settings.me.id else {
            return (.refused("the proposer \(proposal.id.proposer) is this node, which did not make proposal \(proposal.id)"), [])
        }
        var effects: [BootstrapEffect] = []
        switch phase {
        case .finished:
            return (.refused("already part of a cluster; join it"), [])
        case .promised(let current):
            if current.id == proposal.id { return (.accepted, []) }
            // A proposer abandons a proposal before it makes the next one, so a later proposal from
            // the same proposer supersedes the promise; any other proposer must wait for its verdict.
            guard current.id.proposer == proposal.id.proposer, current.id.sequence < proposal.id.sequence else {
                return (.refused("promised to proposal \(current.id)"), [])
            }
        case .proposing(let mine, let accepted, _):
            // Yield to a proposer with a smaller ID: it will win everyone else's promises too.
            guard proposal.id.proposer < settings.me.id else { return (.refused("proposing \(mine.id) myself"), []) }
            effects.append(.abandon(mine.id, to: mine.voters.filter { accepted.contains($0.id) }))
        case .seeking:
            break
        }
        phase = .promised(proposal)
        proposal.voters.forEach { learn($0, firstHand: false) }
        effects.insert(.persistPromise(proposal), at: 0)
        effects.append(.log("bootstrap: promised to proposal \(proposal.id) by \(proposal.id.proposer)"))
        return (.accepted, effects)
    }

    /// The proposer abandoned its proposal: the promise is released.
    public mutating func handleAbandon(_ id: ProposalID, now: Duration) -> [BootstrapEffect] {
        guard case .promised(let proposal) = phase, proposal.id == id else { return [] }
        phase = .seeking
        return [.persistPromise(nil), .log("bootstrap: proposal \(id) was abandoned; promise released")]
    }

    /// What this node (as proposer) says about proposal `id`.
    public func status(of id: ProposalID) -> ProposalStatus {
        if bootstrappedProposal == id { return .bootstrapped }
        if case .proposing(let proposal, _, _) = phase, proposal.id == id { return .pending }
        return .abandoned
    }

    /// The proposer's answer about our promise (`nil`: unreachable, keep waiting).
    public mutating func statusAnswered(_ id: ProposalID, status: ProposalStatus?, now: Duration) -> [BootstrapEffect] {
        guard case .promised(let proposal) = phase, proposal.id == id, status == .abandoned else { return [] }
        phase = .seeking
        return [.persistPromise(nil), .log("bootstrap: proposer \(id.proposer) abandoned \(id); promise released")]
    }
}
