import DiscoCore
import LeaseCore

// MARK: - Faults

extension LeaseSimulation {
    /// A replica to hurt: often the hot one or the Raft leader, where faults matter most.
    mutating func faultTarget() -> Int {
        let roll = Int.random(in: 0..<10, using: &random)
        if roll < 4, let hot = hotReplicas().first { return hot }
        if roll < 7, let leader = raftLeader { return leader }
        return Int.random(in: 0..<replicas.count, using: &random)
    }

    mutating func injectFault() {
        guard !chaosOver else { return }
        queue.schedule(.fault, at: now + .milliseconds(Int64.random(in: 100...700, using: &random)))
        faultNumber += 1
        let node = faultTarget()
        let name = replicas[node].id
        let ttl = settings.ttl.nanoseconds
        switch Int.random(in: 0..<23, using: &random) {
        case 0..<3:
            guard replicas[node].up else { return }
            trace.record("FAULT kill -9 \(name)", at: now)
            crash(node)
            queue.schedule(.endFault(.restart(node)), at: now + .milliseconds(Int64.random(in: 100...3000, using: &random)))
        case 3:
            guard replicas[node].up, !replicas[node].paused else { return }
            trace.record("FAULT graceful stop of \(name)", at: now)
            perform(node, replicas[node].holder.stop(now: localNow(node)))
            queue.schedule(.endFault(.crashAfterStop(node, generation: replicas[node].generation)),
                           at: now + .milliseconds(Int64.random(in: 1...30, using: &random)))
        case 4..<8:
            guard replicas[node].up, !replicas[node].paused else { return }
            let length = Duration.nanoseconds(Int64.random(in: 10_000_000...(3 * ttl), using: &random))
            trace.record("FAULT pause \(name) for \(GoDuration.format(length))", at: now)
            replicas[node].paused = true
            queue.schedule(.endFault(.resume(node, generation: replicas[node].generation)), at: now + length)
        case 8..<10:
            network.heal()
            partitionNumber += 1
            network.isolate(node, from: Array(replicas.indices))
            trace.record("FAULT isolate \(name)", at: now)
            schedulePartitionEnd()
        case 10:
            network.heal()
            partitionNumber += 1
            let side = replicas.indices.filter { _ in Bool.random(using: &random) }
            network.partition([side, replicas.indices.filter { !side.contains($0) }])
            trace.record("FAULT partition \(side.map { replicas[$0].id.rawValue }) from the rest", at: now)
            schedulePartitionEnd()
        case 11..<13:
            let other = raftLeader ?? Int.random(in: 0..<replicas.count, using: &random)
            guard other != node else { return }
            let (from, to) = Bool.random(using: &random) ? (node, other) : (other, node)
            partitionNumber += 1
            network.cut(from: from, to: to)
            trace.record("FAULT cut \(replicas[from].id) → \(replicas[to].id) one way", at: now)
            schedulePartitionEnd()
        case 13..<15:
            guard replicas[node].healthy else { return }
            trace.record("FAULT upstream of \(name) unhealthy", at: now)
            setHealth(node, false)
            queue.schedule(.endFault(.health(node, number: replicas[node].healthFault)),
                           at: now + .milliseconds(Int64.random(in: 50...2000, using: &random)))
        case 15:
            lossNumber += 1
            network.faults.lossRate = Double.random(in: 0.1...0.4, using: &random)
            trace.record("FAULT message loss \(Int(network.faults.lossRate * 100))%", at: now)
            queue.schedule(.endFault(.loss(number: lossNumber)), at: now + .milliseconds(Int64.random(in: 100...2000, using: &random)))
        case 16..<18:
            let rate = drawRate()
            replicas[node].clock.setRate(rate, at: now)
            trace.record("FAULT clock of \(name) now runs at \(rate)", at: now)
        case 18..<20:
            // Commits stall as during a leader change or a slow disk: shorter and longer than the ttl.
            let length = Duration.nanoseconds(Int64.random(in: 50_000_000...(ttl + 400_000_000), using: &random))
            commitsStalledUntil = now + length
            trace.record("FAULT commits stall for \(GoDuration.format(length))", at: now)
        case 22:
            guard replicas[node].up, !replicas[node].paused else { return }
            zombify(node, restartAfter: .milliseconds(Int64.random(in: 10...1000, using: &random)),
                    diesAfter: .milliseconds(Int64.random(in: 100...3000, using: &random)))
        default:
            let proposer = Int.random(in: 0..<replicas.count, using: &random)
            guard replicas[proposer].up, !replicas[proposer].paused else { return }
            trace.record("FAULT operator asks \(replicas[proposer].id) to move the lease to \(name)", at: now)
            propose(from: proposer, .move(Self.group, to: name), sentAt: nil)
        }
    }

    mutating func schedulePartitionEnd() {
        queue.schedule(.endFault(.partition(number: partitionNumber)), at: now + .milliseconds(Int64.random(in: 100...3000, using: &random)))
    }

    mutating func endFault(_ end: FaultEnd) {
        switch end {
        case .resume(let node, let generation):
            guard replicas[node].up, replicas[node].paused, replicas[node].generation == generation else { return }
            resume(node)
        case .restart(let node):
            guard !replicas[node].up else { return }
            restart(node)
        case .crashAfterStop(let node, let generation):
            guard replicas[node].up, replicas[node].generation == generation else { return }
            guard replicas[node].holder.drainingToken == nil else {
                // The process exits once its writes in flight answered and it released the lease.
                queue.schedule(.endFault(end), at: now + .milliseconds(10))
                return
            }
            crash(node)
            queue.schedule(.endFault(.restart(node)), at: now + .milliseconds(Int64.random(in: 50...1000, using: &random)))
        case .health(let node, let number):
            guard !replicas[node].healthy, replicas[node].healthFault == number else { return }
            setHealth(node, true)
        case .partition(let number):
            guard number == partitionNumber else { return }
            network.heal()
            trace.record("network healed", at: now)
        case .loss(let number):
            guard number == lossNumber else { return }
            network.faults.lossRate = chaosOver ? 0 : 0.02
        case .zombieDies(let node, let generation):
            zombieDies(node, generation: generation)
        }
    }

    // MARK: Process faults

    /// `kill -9`: the process and everything it had not written durably are gone; its Raft log
    /// is durable (committed entries are replayed after a restart).
    mutating func crash(_ node: Int) {
        replicas[node].up = false
        replicas[node].paused = false
        replicas[node].deferred = []
        replicas[node].holderArm = nil
        replicas[node].grantorArm = nil
        replicas[node].generation += 1
        if node == raftLeader {
            raftLeader = nil  // its uncommitted entries may still be committed by the next leader
        } else if replicas[node].believesLeader {
            pending[node] = []
        }
        replicas[node].believesLeader = false
    }

    /// A new process of the node: new incarnation, fresh cores, a clock with a new offset, the
    /// log replayed from the start once the leader's commit index arrives.
    mutating func restart(_ node: Int) {
        let clock = newClock()
        let local = clock.local(at: now)
        let id = replicas[node].id
        replicas[node].up = true
        replicas[node].clock = clock
        replicas[node].holder = LeaseHolder(settings: settings(of: node), group: Self.group, me: id, incarnation: random.next(),
                                            healthy: replicas[node].healthy, now: local)
        replicas[node].grantor = LeaseGrantor(settings: settings(of: node), group: Self.group)
        replicas[node].grantor.applied(LeaseState(), now: local)
        replicas[node].table = LeaseTable()
        replicas[node].applied = 0
        replicas[node].term = 0
        replicas[node].knownLeader = nil
        replicas[node].heard = [:]
        replicas[node].lastLeaderContact = now
        let generation = replicas[node].generation
        queue.schedule(.gossip(node, generation: generation), at: now + .milliseconds(Int64.random(in: 0...50, using: &random)))
        queue.schedule(.write(node, generation: generation), at: now + .milliseconds(Int64.random(in: 0...30, using: &random)))
        trace.record("\(id) restarts", at: now)
    }

    /// The end of a pause: everything that arrived meanwhile is handled now, on a clock that
    /// went on running.
    mutating func resume(_ node: Int) {
        replicas[node].paused = false
        trace.record("\(replicas[node].id) resumes", at: now)
        let deferred = replicas[node].deferred
        replicas[node].deferred = []
        for event in deferred where checker.violations.isEmpty {
            handle(event)
            checkSafety()
        }
        // Health checks that changed during the pause are seen now.
        if replicas[node].up, replicas[node].holder.healthy != replicas[node].healthy {
            perform(node, replicas[node].holder.healthChanged(replicas[node].healthy, now: localNow(node)))
        }
    }

    mutating func setHealth(_ node: Int, _ healthy: Bool) {
        replicas[node].healthy = healthy
        replicas[node].healthFault += 1
        guard replicas[node].up, !replicas[node].paused else { return }
        perform(node, replicas[node].holder.healthChanged(healthy, now: localNow(node)))
    }

    // MARK: Healing and liveness

    /// The end of the chaos: every process runs, the network is whole and lossless, every
    /// upstream is healthy.
    mutating func healEverything() {
        chaosOver = true
        healedAt = now
        network.heal()
        network.faults.lossRate = 0
        network.faults.duplicateRate = 0
        longWriteDelayRate = 0
        trace.record("HEAL: faults end", at: now)
        for zombie in zombies { zombieDies(zombie.node, generation: zombie.generation) }
        for node in replicas.indices {
            if replicas[node].up, replicas[node].holder.stopped { crash(node) }
            if !replicas[node].up { restart(node) }
            if replicas[node].paused { resume(node) }
            if !replicas[node].healthy { setHealth(node, true) }
        }
    }

    mutating func checkLiveness() {
        let hot = hotReplicas()
        let bound = GoDuration.format(options.livenessBound)
        guard let holder = hot.first, let token = replicas[holder].holder.token(at: localNow(holder)) else {
            let eligible = replicas.filter(\.mayBeHot).map(\.id.rawValue)
            checker.fail("liveness: no replica is hot \(bound) after the faults healed (may be hot: \(eligible), leader: "
                + "\(raftLeader.map { replicas[$0].id.rawValue } ?? "none"))")
            return
        }
        if !healedWriteAccepted {
            checker.fail("liveness: \(replicas[holder].id) is hot, but no write with the current token was accepted \(bound) after the faults healed")
        }
        stable = (holder, token, coldTransitions)
    }

    mutating func finish() {
        done = true
        switch options.scenario {
        case .chaos:
            guard let stable else { return }
            let quiet = GoDuration.format(options.stableDuration)
            if coldTransitions != stable.colds || replicas[stable.holder].holder.token(at: localNow(stable.holder)) != stable.token
                || committedTable[Self.group].token != stable.token {
                checker.fail("liveness: without faults the lease did not stay with \(replicas[stable.holder].id) (token \(stable.token)) "
                    + "for \(quiet): now token \(committedTable[Self.group].token), \(coldTransitions - stable.colds) step-downs")
            }
        case .killHot, .killHotLeader, .zombie:
            if failover == nil { checker.fail("fail-over: no write with a newer token was accepted within 5s of killing the hot replica") }
        case .handOver:
            if failover == nil {
                checker.fail("hand-over: no write with a newer token was accepted within the drain timeout and 3s of the hand-over")
            }
        case .killLeader:
            break
        case .transferFromHot:
            checkHotKept()
        }
    }

    // MARK: Kill scenarios

    /// Arranges who leads before the kill: the hot replica (``LeaseScenario/killHotLeader``) or
    /// another one.
    mutating func transferLeadership() {
        guard let hot = hotReplicas().first else {
            checker.fail("setup: no replica is hot 2s after the start")
            return
        }
        let target = options.scenario == .killHotLeader || options.scenario == .transferFromHot ? hot : (hot + 1) % replicas.count
        guard target != raftLeader else { return }
        if let old = raftLeader {
            replicas[old].believesLeader = false
            trace.record("\(replicas[old].id) hands leadership over", at: now)
        }
        takeLeadership(target, carryRate: 1)
        trace.record("\(replicas[target].id) leads for term \(raftTerm)", at: now)
    }

    mutating func kill() {
        guard let hot = hotReplicas().first, let token = replicas[hot].holder.token(at: localNow(hot)) else {
            checker.fail("setup: no replica is hot at the kill")
            return
        }
        let victim = options.scenario == .killLeader ? (raftLeader ?? hot) : hot
        guard options.scenario != .killLeader || victim != hot else {
            checker.fail("setup: the hot replica leads; expected another leader")
            return
        }
        if options.scenario == .transferFromHot {
            transferAway(from: hot, token: token)
            return
        }
        if options.scenario == .handOver {
            handOverFromHot(hot, token: token)
            return
        }
        killTime = now
        killedToken = token
        watchedHot = options.scenario == .killLeader ? hot : nil
        if options.scenario == .zombie {
            zombify(hot, restartAfter: .milliseconds(Int64.random(in: 20...300, using: &random)), diesAfter: .seconds(2))
            queue.schedule(.finish, at: now + .seconds(5))
            return
        }
        trace.record("KILL -9 \(replicas[victim].id)\(victim == raftLeader ? " (the Raft leader)" : "")", at: now)
        crash(victim)
        queue.schedule(.finish, at: now + .seconds(5))
    }

    /// ``LeaseScenario/transferFromHot``: the hot replica, leading, hands leadership to the next
    /// replica (a planned transfer: the new leader takes over the log as it is).
    mutating func transferAway(from hot: Int, token: UInt64) {
        guard raftLeader == hot else {
            checker.fail("setup: the hot replica does not lead before the transfer")
            return
        }
        let target = (hot + 1) % replicas.count
        watchedHot = hot
        watchedToken = token
        replicas[hot].believesLeader = false
        trace.record("TRANSFER leadership from the hot \(replicas[hot].id) to \(replicas[target].id)", at: now)
        takeLeadership(target, carryRate: 1)
        queue.schedule(.finish, at: now + .seconds(3))
    }

    /// After a leadership transfer away from the hot: the same replica is hot with the same
    /// token, and it never became cold.
    mutating func checkHotKept() {
        guard let hot = watchedHot else { return }
        let current = replicas[hot].holder.token(at: localNow(hot))
        if hotSteppedDown || current != watchedToken || committedTable[Self.group].token != watchedToken {
            checker.fail("no flapping: after the leadership transfer \(replicas[hot].id) should still be hot with token \(watchedToken), "
                + "but it acts with \(current.map(String.init) ?? "none"), the committed token is \(committedTable[Self.group].token)"
                + (hotSteppedDown ? ", and it became cold" : ""))
        }
    }
}
