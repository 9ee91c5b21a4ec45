import DiscoCore
import LeaseCore

// MARK: - The replicated log model

extension LeaseSimulation {
    /// Whether `node` runs and reaches a majority of the replicas (itself included) both ways.
    func hasQuorum(_ node: Int) -> Bool {
        guard replicas[node].up, !replicas[node].paused else { return false }
        let reachable = replicas.indices.filter { other in
            other == node || (replicas[other].up && !replicas[other].paused
                && !network.isCut(from: node, to: other) && !network.isCut(from: other, to: node))
        }
        return reachable.count > replicas.count / 2
    }

    var leaderFunctional: Bool { raftLeader.map(hasQuorum) ?? false }

    // MARK: Proposing

    /// `node` proposes `command`: into its own log when it believes it leads, else to the
    /// leader it knows over the network.
    mutating func propose(from node: Int, _ command: LeaseCommand, sentAt: Duration?) {
        if replicas[node].believesLeader {
            addPending(at: node, command, proposer: node, generation: replicas[node].generation, sentAt: sentAt)
        } else if let leader = replicas[node].knownLeader {
            let message = Message.proposal(command, from: node, generation: replicas[node].generation, sentAt: sentAt)
            for delay in network.deliveries(from: node, to: leader, random: &random) {
                queue.schedule(.deliver(leader, message), at: now + delay)
            }
        }
    }

    mutating func addPending(at node: Int, _ command: LeaseCommand?, proposer: Int?, generation: Int, sentAt: Duration?) {
        let readyAt = now + .nanoseconds(Int64.random(in: commitLatency, using: &random))
        pending[node].append(PendingEntry(command: command, proposer: proposer, generation: generation, sentAt: sentAt, readyAt: readyAt))
        if node == raftLeader { queue.schedule(.commit(node, term: raftTerm), at: readyAt) }
    }

    // MARK: Committing

    /// The leader commits the entries whose replication finished, while it reaches a majority.
    mutating func commit(at node: Int, term: Int) {
        guard node == raftLeader, term == raftTerm, replicas[node].believesLeader else { return }
        guard hasQuorum(node) else {
            queue.schedule(.commit(node, term: term), at: now + Self.heartbeatInterval)
            return
        }
        if let stalled = commitsStalledUntil, now < stalled {
            queue.schedule(.commit(node, term: term), at: stalled)
            return
        }
        var committed = false
        while let entry = pending[node].first, entry.readyAt <= now {
            pending[node].removeFirst()
            commitEntry(entry, leader: node)
            committed = true
        }
        if let next = pending[node].first { queue.schedule(.commit(node, term: term), at: next.readyAt) }
        guard committed else { return }
        applyUpTo(node, log.count)
        // The commit index rides on the next append half the time; otherwise on the heartbeat.
        if Bool.random(using: &random) { sendCommitNotices(from: node) }
    }

    mutating func commitEntry(_ entry: PendingEntry, leader: Int) {
        let index = log.count + 1
        let before = committedTable[Self.group]
        let result = entry.command.map { committedTable.apply($0, index: UInt64(index)) }
        log.append(CommittedEntry(command: entry.command, result: result))
        switch result {
        case .granted(_, let to, let token):
            checker.grantCommitted(token: token, at: now)
            checkHandOver(before: before, grantedTo: to, token: token)
            trace.record("commit \(index): grant token \(token) to \(to)", at: now)
        case .released(_, let holder, let token): trace.record("commit \(index): \(holder) released token \(token)", at: now)
        case .moveRequested(_, let to): trace.record("commit \(index): move to \(to) requested", at: now)
        case .refused(_, let refusal):
            if case .grant? = entry.command { trace.record("commit \(index): grant refused, \(refusal)", at: now) }
        case .renewed, nil:
            break
        }
        guard let proposer = entry.proposer, let sentAt = entry.sentAt, let command = entry.command else { return }
        let answer = Event.answer(proposer, generation: entry.generation, command, sentAt: sentAt, result)
        if proposer == leader {
            queue.schedule(answer, at: now)
        } else {
            for delay in network.deliveries(from: leader, to: proposer, random: &random) { queue.schedule(answer, at: now + delay) }
        }
    }

    /// `node` applies the committed entries up to `index` (in order, on its own clock).
    mutating func applyUpTo(_ node: Int, _ index: Int) {
        var changed = false
        while replicas[node].applied < min(index, log.count) {
            let position = replicas[node].applied
            replicas[node].applied += 1
            guard let command = log[position].command else { continue }
            let result = replicas[node].table.apply(command, index: UInt64(position + 1))
            checker.applied(result, expected: log[position].result, index: position + 1, node: replicas[node].id, at: now)
            let state = replicas[node].table[Self.group]
            let local = localNow(node)
            replicas[node].grantor.applied(state, now: local)
            perform(node, replicas[node].holder.applied(state, now: local))
            changed = true
        }
        if changed, replicas[node].believesLeader { decideGrant(node) }
    }

    // MARK: Heartbeats and elections

    mutating func heartbeat() {
        queue.schedule(.heartbeat, at: now + Self.heartbeatInterval)
        if let leader = raftLeader, replicas[leader].up, !replicas[leader].paused {
            sendCommitNotices(from: leader)
            if hasQuorum(leader) {
                for index in replicas.indices where index == leader || (!network.isCut(from: leader, to: index)
                    && !network.isCut(from: index, to: leader)) {
                    replicas[index].lastLeaderContact = now
                }
            }
        }
        checkQuorumStepDowns()
        startElectionIfDue()
    }

    mutating func sendCommitNotices(from leader: Int) {
        let message = Message.commitNotice(index: log.count, term: raftTerm, leader: leader)
        for index in replicas.indices where index != leader {
            for delay in network.deliveries(from: leader, to: index, random: &random) {
                queue.schedule(.deliver(index, message), at: now + delay)
            }
        }
    }

    /// A believed leader that cannot reach a majority for its election timeout steps down.
    mutating func checkQuorumStepDowns() {
        for index in replicas.indices where replicas[index].believesLeader && replicas[index].up && !replicas[index].paused {
            if hasQuorum(index) {
                replicas[index].lostQuorumSince = nil
            } else if let since = replicas[index].lostQuorumSince {
                if now - since >= replicas[index].electionTimeout { stepDownLeader(index, why: "lost its quorum") }
            } else {
                replicas[index].lostQuorumSince = now
            }
        }
    }

    mutating func stepDownLeader(_ node: Int, why: String) {
        replicas[node].believesLeader = false
        replicas[node].lostQuorumSince = nil
        if node == raftLeader {
            raftLeader = nil  // its uncommitted entries may still be committed by the next leader
        } else {
            pending[node] = []
        }
        trace.record("\(replicas[node].id) stops leading: \(why)", at: now)
    }

    /// Without a working leader, the first replica whose election timeout passed and that
    /// reaches a majority wins an election (pre-vote and vote: two round trips later).
    mutating func startElectionIfDue() {
        guard !electionUnderway, !leaderFunctional else { return }
        let ready = replicas.indices.filter { hasQuorum($0) && now >= replicas[$0].lastLeaderContact + replicas[$0].electionTimeout }
        guard let winner = ready.min(by: {
            replicas[$0].lastLeaderContact + replicas[$0].electionTimeout < replicas[$1].lastLeaderContact + replicas[$1].electionTimeout
        }) else { return }
        electionUnderway = true
        queue.schedule(.becomeLeader(winner, term: raftTerm + 1), at: now + delay() + delay() + delay() + delay())
    }

    mutating func becomeLeader(_ node: Int, term: Int) {
        electionUnderway = false
        guard term == raftTerm + 1, hasQuorum(node) else { return }
        takeLeadership(node, carryRate: 0.3)
        trace.record("\(replicas[node].id) elected leader for term \(term)", at: now)
    }

    /// `node` leads from now on, in a new term. Entries other replicas had not committed are
    /// committed by it with probability `carryRate` each (they had reached its log), else lost.
    mutating func takeLeadership(_ node: Int, carryRate: Double) {
        raftTerm += 1
        raftLeader = node
        let previous = replicas[node].knownLeader.flatMap { $0 == node ? nil : replicas[$0].id }
        replicas[node].grantor.leadershipGained(now: localNow(node), previousLeader: previous)
        var entries = pending[node]
        for other in replicas.indices where other != node {
            entries += pending[other].filter { _ in Double.random(in: 0..<1, using: &random) < carryRate }
            pending[other] = []
        }
        pending[node] = []
        for entry in entries { addPending(at: node, entry.command, proposer: entry.proposer, generation: entry.generation, sentAt: entry.sentAt) }
        addPending(at: node, nil, proposer: nil, generation: 0, sentAt: nil)  // the new term's no-op
        replicas[node].believesLeader = true
        replicas[node].term = raftTerm
        replicas[node].lostQuorumSince = nil
        learnLeader(node, at: node)
        sendCommitNotices(from: node)  // a new leader announces itself at once
        for index in replicas.indices {
            replicas[index].electionTimeout = drawElectionTimeout()
            replicas[index].lastLeaderContact = now
        }
    }

    mutating func learnLeader(_ leader: Int, at node: Int) {
        guard replicas[node].knownLeader != leader else { return }
        replicas[node].knownLeader = leader
        perform(node, replicas[node].holder.leaderChanged(now: localNow(node)))
    }

    // MARK: Receiving

    mutating func receive(_ message: Message, at node: Int) {
        switch message {
        case .proposal(let command, let from, let generation, let sentAt):
            if replicas[node].believesLeader { addPending(at: node, command, proposer: from, generation: generation, sentAt: sentAt) }
        case .commitNotice(let index, let term, let leader):
            guard term >= replicas[node].term else { return }
            replicas[node].term = term
            if replicas[node].believesLeader, leader != node { stepDownLeader(node, why: "heard of term \(term)") }
            learnLeader(leader, at: node)
            applyUpTo(node, index)
        case .gossip(let from, let healthy):
            replicas[node].heard[from] = (localNow(node), healthy)
            if replicas[node].believesLeader { decideGrant(node) }
        }
    }
}
