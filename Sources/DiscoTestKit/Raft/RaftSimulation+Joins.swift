import DiscoCore
import DiscoRaft

// MARK: - The joins scenario

extension RaftSimulation {
    /// What becomes of a node that asks to join.
    enum JoinerFate: CaseIterable {
        /// It never starts: a joiner that died before it could catch up (or an address where
        /// nothing listens).
        case neverStarts
        /// It starts and crashes a moment later, while it is catching up.
        case crashesWhileCatchingUp
        /// It starts and stays up (later faults may still crash it, after it caught up).
        case staysUp
    }

    /// One step of the membership activity a cluster sees: a node asks to join, the leader's
    /// reconciliation promotes caught-up learners, a careless operator promotes a learner
    /// regardless (the core must refuse unless it caught up), the reaper removes a learner, or an
    /// operator removes a voter.
    mutating func joinStep() {
        guard let leader = pick(leaders), let core = nodes[leader].core else { return }
        let config = core.config
        let outsiders = nodes.indices.filter { !config.contains(nodes[$0].id) }
        var change: ConfigChange?
        switch Int.random(in: 0..<7, using: &random) {
        case 0, 1:
            guard let newcomer = pick(outsiders) else { break }
            let fate = JoinerFate.allCases[Int.random(in: 0..<JoinerFate.allCases.count, using: &random)]
            admit(newcomer, fate: fate)
            change = .addLearner(nodes[newcomer].id)
        case 2:
            // Reconciliation: ask for the promotion of a learner the core reports caught up.
            change = config.learners.first { core.isCaughtUp(learner: $0) }.map(ConfigChange.promote)
        case 3, 4:
            // A careless operator: promote any learner; the core must refuse one that is behind.
            if let learner = config.learners.isEmpty ? nil : config.learners[Int.random(in: 0..<config.learners.count, using: &random)] {
                change = .promote(learner)
            }
        case 5:
            // The reaper: drop a learner that is not caught up.
            change = config.learners.first { !core.isCaughtUp(learner: $0) }.map(ConfigChange.remove)
        default:
            if config.voters.count > 3 {
                change = .remove(config.voters[Int.random(in: 0..<config.voters.count, using: &random)])
            }
        }
        guard let change else { return }
        let accepted = withCore(leader) { (core: inout RaftNode) -> String in
            do throws(RaftError) {
                return "index \(try core.proposeConfigChange(change))"
            } catch {
                return "refused: \(error.message)"
            }
        } ?? "no core"
        trace.record(.note("membership change at \(names[leader]): \(change): \(accepted)"), at: now)
    }

    /// Prepares a joiner according to its fate.
    private mutating func admit(_ position: Int, fate: JoinerFate) {
        trace.record(.note("\(names[position]) asks to join (\(fate))"), at: now)
        switch fate {
        case .neverStarts:
            return
        case .crashesWhileCatchingUp:
            if nodes[position].core == nil { start(position) }
            let after = Duration.milliseconds(Int.random(in: 1...400, using: &random))
            queue.schedule(.crash(node: position, generation: nodes[position].generation), at: now + after)
        case .staysUp:
            if nodes[position].core == nil { start(position) }
        }
    }
}
