import DiscoCore
import LeaseCore

// MARK: - Replicas: the cores and what they do

extension LeaseSimulation {
    /// Performs a holder's effects for `node`.
    mutating func perform(_ node: Int, _ effects: [LeaseHolder.Effect]) {
        for effect in effects {
            switch effect {
            case .proposeRenewal(let command, let sentAt):
                propose(from: node, command, sentAt: sentAt)
            case .proposeRelease(let command):
                trace.record("\(replicas[node].id) proposes \(command)", at: now)
                propose(from: node, command, sentAt: nil)
            case .becomeHot(let token):
                trace.record("\(replicas[node].id) becomes hot with token \(token)", at: now)
                attemptWrite(node)  // a new holder writes at once, fencing off its predecessors
            case .becomeCold(let token, let reason):
                coldTransitions += 1
                if node == watchedHot { hotSteppedDown = true }
                trace.record("\(replicas[node].id) becomes cold (token \(token), \(reason))", at: now)
            case .suspend(let token):
                suspensions += 1
                trace.record("\(replicas[node].id) suspends (token \(token)): renew deadline passed", at: now)
            case .resume(let token):
                trace.record("\(replicas[node].id) resumes acting with token \(token)", at: now)
                attemptWrite(node)
            case .awaitWritesInFlight(let token):
                startDrain(node, token: token)
            case .arm(let deadline):
                guard replicas[node].holderArm?.deadline != deadline else { continue }
                let id = nextArm
                nextArm += 1
                replicas[node].holderArm = (id, deadline)
                queue.schedule(.holderTimer(node, arm: id), at: replicas[node].clock.real(atLocal: deadline, notBefore: now))
            }
        }
    }

    /// Lets `node`'s grantor decide, if `node` believes it leads.
    mutating func decideGrant(_ node: Int) {
        guard replicas[node].believesLeader else { return }
        let effects = replicas[node].grantor.decide(now: localNow(node), isLeader: true, candidates: candidates(seenBy: node))
        for effect in effects {
            switch effect {
            case .proposeGrant(let command):
                addPending(at: node, command, proposer: nil, generation: replicas[node].generation, sentAt: nil)
            case .arm(let deadline):
                guard replicas[node].grantorArm?.deadline != deadline else { continue }
                let id = nextArm
                nextArm += 1
                replicas[node].grantorArm = (id, deadline)
                queue.schedule(.grantorTimer(node, arm: id), at: replicas[node].clock.real(atLocal: deadline, notBefore: now))
            }
        }
    }

    /// What `node` knows of every replica: its own health, and the others' from gossip heard
    /// within the in-touch window of its clock.
    func candidates(seenBy node: Int) -> [LeaseCandidate] {
        let local = localNow(node)
        return replicas.indices.map { index in
            let replica = replicas[index]
            if index == node {
                return LeaseCandidate(node: replica.id, priority: replica.priority, healthy: replica.healthy, mayBeHot: replica.mayBeHot)
            }
            guard let heard = replicas[node].heard[index] else {
                return LeaseCandidate(node: replica.id, priority: replica.priority, healthy: false, mayBeHot: replica.mayBeHot, inTouch: false)
            }
            return LeaseCandidate(node: replica.id, priority: replica.priority, healthy: heard.healthy, mayBeHot: replica.mayBeHot,
                                  inTouch: local - heard.at < Self.inTouchWindow)
        }
    }

    /// The answer to a renewal reached its proposer.
    mutating func answered(_ node: Int, _ command: LeaseCommand, sentAt: Duration, _ result: LeaseApplyResult?) {
        guard case .renew(_, _, _, let token, _) = command else { return }
        let local = localNow(node)
        switch result {
        case .renewed?:
            perform(node, replicas[node].holder.renewed(token: token, sentAt: sentAt, now: local))
        case .refused(_, let refusal)?:
            perform(node, replicas[node].holder.renewalFailed(token: token, sentAt: sentAt, refusal: refusal, now: local))
        default:
            perform(node, replicas[node].holder.renewalFailed(token: token, sentAt: sentAt, refusal: nil, now: local))
        }
    }

    // MARK: Gossip

    /// Every ~200 ms a replica tells the others it is alive and how its upstream is.
    mutating func gossip(_ node: Int, generation: Int) {
        guard replicas[node].up, replicas[node].generation == generation else { return }
        queue.schedule(.gossip(node, generation: generation), at: now + .milliseconds(Int64.random(in: 150...250, using: &random)))
        let message = Message.gossip(from: node, healthy: replicas[node].healthy)
        for index in replicas.indices where index != node {
            for delay in network.deliveries(from: node, to: index, random: &random) {
                queue.schedule(.deliver(index, message), at: now + delay)
            }
        }
    }

    // MARK: Writes to the fenced backend

    mutating func writeTimer(_ node: Int, generation: Int) {
        guard replicas[node].up, replicas[node].generation == generation else { return }
        queue.schedule(.write(node, generation: generation), at: now + .milliseconds(Int64.random(in: 15...35, using: &random)))
        attemptWrite(node)
    }

    /// A hot replica writes with its token, checked right before sending. The write travels
    /// like any message, and sometimes far longer (a pause between the check and the send).
    mutating func attemptWrite(_ node: Int) {
        guard let token = replicas[node].holder.token(at: localNow(node)) else { return }
        if longWriteDelayRate > 0, Double.random(in: 0..<1, using: &random) < longWriteDelayRate {
            let ttl = settings.ttl.nanoseconds
            sendWrite(node, token: token, delays: [.nanoseconds(Int64.random(in: ttl...(3 * ttl), using: &random))])
            return
        }
        sendWrite(node, token: token, delays: network.deliveries(from: node, to: replicas.count, random: &random))
    }

    mutating func backendWrite(token: UInt64, from node: Int, write: UInt64?) {
        writeArrived(write)
        guard backend.write(token: token) else {
            trace.record("backend rejects token \(token) from \(replicas[node].id) (highest \(backend.highest))", at: now)
            return
        }
        checker.backendAccepted(token: token, from: replicas[node].id, at: now)
        if token > tracedToken {
            tracedToken = token
            trace.record("backend accepts the first write with token \(token), from \(replicas[node].id)", at: now)
        }
        if healedAt != nil, token == committedTable[Self.group].token { healedWriteAccepted = true }
        if let killTime, failover == nil, token > killedToken {
            failover = now - killTime
            trace.record("fail-over: \(LeaseSimulationTrace.stamp(now - killTime)) after the kill", at: now)
        }
    }
}
