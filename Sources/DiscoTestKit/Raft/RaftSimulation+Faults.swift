import DiscoCore
import DiscoRaft

// MARK: - Faults, clients and liveness

extension RaftSimulation {
    var upNodes: [Int] { nodes.indices.filter { nodes[$0].core != nil } }
    var leaders: [Int] { upNodes.filter { nodes[$0].core?.role == .leader } }

    mutating func pick(_ candidates: [Int]) -> Int? {
        candidates.isEmpty ? nil : candidates[Int.random(in: 0..<candidates.count, using: &random)]
    }

    mutating func injectFault() {
        let startedNodes = nodes.indices.filter { nodes[$0].started }
        switch Int.random(in: 0..<11, using: &random) {
        case 0, 1:
            if let victim = pick(upNodes) { crash(victim, duringWrite: false) }
        case 2:
            if let revived = pick(startedNodes.filter { nodes[$0].core == nil }) {
                start(revived)
                let last = nodes[revived].core?.lastIndex ?? 0
                trace.record(.restart(node: revived, lastIndex: last, term: nodes[revived].core?.term ?? 0), at: now)
            }
        case 4:
            newPartition()
            let shuffled = startedNodes.shuffled(using: &random)
            let cut = Int.random(in: 1..<max(2, shuffled.count), using: &random)
            network.partition([Array(shuffled[..<cut]), Array(shuffled[cut...])])
            trace.record(.fault("partition \(shuffled[..<cut].map { names[$0] }) | \(shuffled[cut...].map { names[$0] })"), at: now)
        case 5:
            newPartition()
            if let node = pick(startedNodes) {
                network.isolate(node, from: Array(nodes.indices))
                trace.record(.fault("isolate \(names[node])"), at: now)
            }
        case 6:
            newPartition()
            if let from = pick(startedNodes), let to = pick(startedNodes.filter { $0 != from }) {
                network.cut(from: from, to: to)
                trace.record(.fault("one-way cut \(names[from]) -> \(names[to])"), at: now)
            }
        case 7:
            network.heal()
            trace.record(.fault("heal network"), at: now)
        case 8:
            let slow = Int.random(in: 0..<4, using: &random) == 0
            network.faults = NetworkFaults(
                lossRate: Double.random(in: 0...0.3, using: &random),
                duplicateRate: Double.random(in: 0...0.1, using: &random),
                minDelay: .milliseconds(1), maxDelay: .milliseconds(slow ? 300 : Int.random(in: 2...30, using: &random)))
            trace.record(.fault("network loss=\(network.faults.lossRate) dup=\(network.faults.duplicateRate) maxDelay=\(network.faults.maxDelay)"), at: now)
        case 9:
            if options.scenario == .joins { joinStep() } else { changeMembership() }
        case 10:
            if let leader = pick(leaders), let core = nodes[leader].core,
               let target = pick(core.config.voters.compactMap { id in nodes.firstIndex { $0.id == id } }.filter { $0 != leader }) {
                trace.record(.note("transfer leadership \(names[leader]) -> \(names[target])"), at: now)
                let targetID = nodes[target].id
                withCore(leader) { try? $0.transferLeadership(to: targetID) }
            }
        default:
            if let leader = pick(leaders) {
                let context = nextReadContext
                nextReadContext += 1
                readsAsked[context] = checker.appliedCount
                withCore(leader) { $0.readIndex(context: context) }
            } else if let node = pick(upNodes) {
                withCore(node) { $0.campaign() }
            }
        }
    }

    /// Replaces any partition with a new one that heals by itself after a while.
    private mutating func newPartition() {
        network.heal()
        partitionNumber += 1
        let lasts = Duration.milliseconds(Int.random(in: 300...4000, using: &random))
        queue.schedule(.healPartition(number: partitionNumber), at: now + lasts)
    }

    private mutating func changeMembership() {
        guard let leader = pick(leaders), let config = nodes[leader].core?.config else { return }
        let outsiders = nodes.indices.filter { !config.contains(nodes[$0].id) }
        var change: ConfigChange?
        if let learner = config.learners.first {
            change = .promote(learner)
        } else if config.voters.count < 5, let newcomer = pick(outsiders), Bool.random(using: &random) {
            if nodes[newcomer].core == nil { start(newcomer) }
            change = .addLearner(nodes[newcomer].id)
        } else if config.voters.count > 3, let victim = pick(Array(config.voters.indices)) {
            change = .remove(config.voters[victim])
        } else if config.voters.count < 5, let newcomer = pick(outsiders) {
            // Voters join as learners too; the core promotes them only once caught up.
            if nodes[newcomer].core == nil { start(newcomer) }
            change = .addLearner(nodes[newcomer].id)
        }
        guard let change else { return }
        trace.record(.note("membership change at \(names[leader]): \(change)"), at: now)
        withCore(leader) { _ = try? $0.proposeConfigChange(change) }
    }

    mutating func proposeFromClient() {
        guard let leader = pick(leaders) else { return }
        var payload: [UInt8] = [0x01]
        for shift in stride(from: 56, through: 0, by: -8) { payload.append(UInt8(truncatingIfNeeded: nextPayload >> UInt64(shift))) }
        nextPayload += 1
        if let index = withCore(leader, { try? $0.propose(payload) }) ?? nil {
            trace.record(.propose(node: leader, index: index), at: now)
        }
    }

    // MARK: Healing and liveness

    mutating func healEverything() {
        healed = true
        healTime = now
        network.heal()
        network.faults = NetworkFaults(minDelay: .milliseconds(1), maxDelay: .milliseconds(10))
        trace.record(.fault("heal: network repaired, every node restarts"), at: now)
        for position in nodes.indices where nodes[position].started && nodes[position].core == nil {
            start(position)
        }
        queue.schedule(.livenessProbe, at: now + .milliseconds(100))
    }

    mutating func probeLiveness() {
        guard !livenessDone else { return }
        if let sent = livenessMarkerSent, now - sent < .seconds(3) { return }
        guard let leader = pick(leaders) else { return }
        if let index = withCore(leader, { try? $0.propose([0xFF]) }) ?? nil {
            trace.record(.note("liveness marker proposed at index \(index)"), at: now)
            livenessMarkerSent = now
        }
    }
}
