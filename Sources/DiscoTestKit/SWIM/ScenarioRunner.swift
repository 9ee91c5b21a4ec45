import DiscoCore
import DiscoSWIM

// MARK: - ScenarioRunner

/// Plays one scenario on a simulation and checks the properties while it runs.
final class ScenarioRunner {
    let sim: SWIMSimulation
    var report: SWIMScenarioReport
    let bounds: SWIMScenario.Bounds
    var random: DeterministicRandom
    let period: Duration
    let maximumSuspicion: Duration

    /// Highest incarnation a node had when it crashed: deaths up to it are legitimate.
    var crashedAtIncarnation: [Int: UInt64] = [:]
    /// Pairs ever separated by a partition (deaths across are legitimate).
    var separated: Set<Int> = []
    /// While a partition is up, and for one maximum suspicion timeout after it heals, the
    /// network is beyond the loss tolerance for gossip (most random targets are unreachable):
    /// deaths among members on the same side are counted, not flagged.
    var partitionStart: Duration?
    var partitionGraceEnd: Duration = .zero
    var leftNodes: Set<Int> = []

    init(sim: SWIMSimulation, report: SWIMScenarioReport, bounds: SWIMScenario.Bounds, random: DeterministicRandom) {
        self.sim = sim
        self.report = report
        self.bounds = bounds
        self.random = random
        self.period = sim.settings.probeInterval
        self.maximumSuspicion = bounds.maximumSuspicion
        sim.onMemberEvent = { [unowned self] observer, event, time in self.observe(observer, event, time) }
    }

    // MARK: Observation

    func observe(_ observer: Int, _ event: SWIM.MemberEvent, _ time: Duration) {
        let member = event.member
        let name: String
        switch event {
        case .joined: name = "joined"
        case .suspect: name = "suspect"
        case .alive: name = "alive"
        case .dead: name = "dead"
        case .left: name = "left"
        case .metadataUpdated: name = "updated"
        }
        report.log(time, "n\(observer) sees \(name) \(member.id)#\(member.incarnation)")
        guard case .dead = event, let subject = sim.index(of: member.id) else { return }
        if !isLegitimateDeath(observer: observer, subject: subject, incarnation: member.incarnation) {
            if let partitionStart, time >= partitionStart, time <= partitionGraceEnd {
                report.partitionEraDeaths += 1
                report.log(time, "(same-side death while the partition made gossip lossy)")
            } else {
                violation("n\(observer) declared n\(subject)#\(member.incarnation) dead although it is live and reachable")
            }
        }
    }

    func isLegitimateDeath(observer: Int, subject: Int, incarnation: UInt64) -> Bool {
        if !sim.isUp(subject) || leftNodes.contains(subject) { return true }
        if let crashed = crashedAtIncarnation[subject], incarnation <= crashed { return true }
        return separated.contains(pairKey(observer, subject))
    }

    func pairKey(_ a: Int, _ b: Int) -> Int { min(a, b) * 1_000_000 + max(a, b) }

    func violation(_ text: String) {
        report.violations.append("t=\(SWIMScenario.format(sim.now)) \(text)")
        report.log(sim.now, "VIOLATION \(text)")
    }

    // MARK: Conditions

    var upNodes: [Int] { (0..<sim.memberCount).filter { sim.isUp($0) } }

    func everyoneSeesEveryoneAlive() -> Bool {
        let up = upNodes
        for observer in up {
            for subject in up where subject != observer {
                if sim.status(seenBy: observer, of: subject) != .alive { return false }
            }
        }
        return true
    }

    func missing(_ condition: (Int, Int) -> Bool) -> String {
        var lines: [String] = []
        for observer in upNodes {
            for subject in 0..<sim.memberCount where subject != observer && !condition(observer, subject) {
                let status = sim.status(seenBy: observer, of: subject).map { "\($0)" } ?? "unknown"
                lines.append("n\(observer) sees n\(subject) \(status)")
            }
        }
        return lines.prefix(8).joined(separator: ", ")
    }

    /// Runs until `condition` holds (checked every 10 ms) or `limit` passes; returns the time
    /// it first held.
    func wait(within limit: Duration, _ condition: () -> Bool) -> Duration? {
        let deadline = sim.now + limit
        while true {
            if condition() { return sim.now }
            guard sim.now < deadline else { return nil }
            sim.run(until: min(deadline, sim.now + .milliseconds(10)))
        }
    }

    func countJoin(_ elapsed: Duration) {
        report.joinsMeasured += 1
        if elapsed <= bounds.joinTarget { report.joinsWithinTarget += 1 }
    }

    /// The start of the next phase: `at`, or now if the previous phase ran past it.
    func phase(_ at: Duration) -> Duration {
        sim.run(until: at)
        return sim.now
    }

    func scheduleStalls(of node: Int, from start: Duration, to end: Duration) {
        var time = start
        while time < end {
            let stallEnd = time + .milliseconds(300)
            sim.schedule(at: time) { [unowned self] sim in
                sim.stall(node, until: stallEnd)
                report.log(sim.now, "n\(node) stalls for 300 ms")
            }
            time = stallEnd + .milliseconds(Int64.random(in: 400...1200, using: &random))
        }
    }

    // MARK: Play

    func play() {
        let n = sim.memberCount
        sim.start(0, seeds: [])
        var lastStart = Duration.zero
        for node in 1..<n {
            let at = Duration.milliseconds(Int64.random(in: 20...300, using: &random))
            lastStart = max(lastStart, at)
            let seeds = node > 1 && Bool.random(using: &random) ? [0, Int.random(in: 1..<node, using: &random)] : [0]
            sim.schedule(at: at) { [unowned self] sim in
                sim.start(node, seeds: seeds)
                report.log(sim.now, "n\(node) starts, seeds \(seeds.map { "n\($0)" }.joined(separator: ","))")
            }
        }
        sim.run(until: lastStart)
        if let time = wait(within: bounds.join, everyoneSeesEveryoneAlive) {
            report.initialJoinPeriods = Double((time - lastStart).nanoseconds) / Double(period.nanoseconds)
            countJoin(time - lastStart)
        } else {
            violation("members did not all know each other within \(bounds.join) of the last start: \(missing { sim.status(seenBy: $0, of: $1) == .alive })")
        }
        switch report.kind {
        case .crashAndRestart: crashAndRestart()
        case .partitionAndHeal: partitionAndHeal()
        case .leaveAndJoin: leaveAndJoin()
        }
    }

    func crashAndRestart() {
        let n = sim.memberCount
        let crashed = Int.random(in: 1..<n, using: &random)
        var starved = Int.random(in: 0..<n - 1, using: &random)
        if starved >= crashed { starved += 1 }
        scheduleStalls(of: starved, from: .seconds(3), to: .seconds(12))
        let start = phase(.seconds(3))
        crashedAtIncarnation[crashed] = sim.instance(crashed)?.incarnation ?? 0
        sim.crash(crashed)
        report.log(sim.now, "n\(crashed) crashes")
        let crashTime = sim.now
        // One crash in four restarts at once, before anyone could declare it dead: the new
        // incarnation must outbid the old one's suspicion.
        if Int.random(in: 0..<4, using: &random) == 0 {
            sim.run(until: crashTime + .milliseconds(Int64.random(in: 50...400, using: &random)))
        } else {
            // Dead, or never known at all (a member that never learned of it cannot miss it).
            let allSeeDead = { [unowned self] in
                upNodes.allSatisfy { [.dead, nil].contains(sim.status(seenBy: $0, of: crashed)) }
            }
            if let time = wait(within: bounds.crashDetection, allSeeDead) {
                report.crashDetection = time - crashTime
            } else {
                violation("crashed n\(crashed) not declared dead by all within \(bounds.crashDetection): \(missing { $1 != crashed || sim.status(seenBy: $0, of: $1) == .dead })")
            }
            sim.run(until: start + .seconds(6))
        }
        let seed = upNodes.filter { $0 != starved }[0]
        sim.start(crashed, seeds: [seed])
        report.log(sim.now, "n\(crashed) restarts, seed n\(seed)")
        if wait(within: bounds.join, everyoneSeesEveryoneAlive) == nil {
            violation("restarted n\(crashed) not alive everywhere within \(bounds.join): \(missing { sim.status(seenBy: $0, of: $1) == .alive })")
        }
        sim.run(until: sim.now + .seconds(1))
    }

    func partitionAndHeal() {
        let n = sim.memberCount
        var order = Array(0..<n)
        order.shuffle(using: &random)
        let split = Int.random(in: 1...(n - 1), using: &random)  // a side of one: an isolated member
        let sideA = Array(order[..<split]).sorted()
        let sideB = Array(order[split...]).sorted()
        let start = phase(.seconds(3))
        sim.network.partition([sideA, sideB])
        partitionStart = sim.now
        partitionGraceEnd = .seconds(1_000_000)
        for a in sideA { for b in sideB { separated.insert(pairKey(a, b)) } }
        report.log(sim.now, "partition \(sideA.map { "n\($0)" }) | \(sideB.map { "n\($0)" })")
        sim.run(until: start + .seconds(5))
        sim.network.heal()
        partitionGraceEnd = sim.now + maximumSuspicion
        report.log(sim.now, "partition heals")
        let healTime = sim.now
        if let time = wait(within: bounds.heal, everyoneSeesEveryoneAlive) {
            report.healConvergence = time - healTime
        } else {
            violation("membership did not converge within \(bounds.heal) of the heal: \(missing { sim.status(seenBy: $0, of: $1) == .alive })")
        }
        sim.run(until: sim.now + .seconds(1))
    }

    func leaveAndJoin() {
        let n = sim.memberCount
        let starved = Int.random(in: 0..<n, using: &random)
        var leaving = Int.random(in: 0..<n - 1, using: &random)
        if leaving >= starved { leaving += 1 }
        scheduleStalls(of: starved, from: .seconds(3), to: .seconds(12))
        let start = phase(.seconds(4))
        leftNodes.insert(leaving)
        sim.leave(leaving)
        report.log(sim.now, "n\(leaving) leaves")
        let allSeeLeft = { [unowned self] in upNodes.allSatisfy { $0 == leaving || sim.status(seenBy: $0, of: leaving) == .left } }
        if wait(within: bounds.leave, allSeeLeft) == nil {
            violation("n\(leaving) not seen as left by all within \(bounds.leave): \(missing { $1 != leaving || sim.status(seenBy: $0, of: $1) == .left })")
        }
        sim.run(until: start + .seconds(2))
        let newcomer = sim.addNode()
        let candidates = upNodes.filter { $0 != starved && $0 != newcomer }
        let seed = candidates[Int.random(in: 0..<candidates.count, using: &random)]
        sim.start(newcomer, seeds: [seed])
        report.log(sim.now, "n\(newcomer) joins through n\(seed)")
        let joinTime = sim.now
        let allKnow = { [unowned self] in upNodes.allSatisfy { $0 == newcomer || sim.status(seenBy: $0, of: newcomer) == .alive } }
        if let time = wait(within: bounds.join, allKnow) {
            report.lateJoinPeriods = Double((time - joinTime).nanoseconds) / Double(period.nanoseconds)
            countJoin(time - joinTime)
        } else {
            violation("newcomer n\(newcomer) not known by all within \(bounds.join): \(missing { $1 != newcomer || sim.status(seenBy: $0, of: $1) == .alive })")
        }
        sim.run(until: max(sim.now + .seconds(1), .seconds(12)))
    }

    func finish() -> SWIMScenarioReport {
        for problem in sim.trafficViolations { violation(problem) }
        for problem in sim.nodeIDConflictViolations { violation(problem) }
        let periods = Double(sim.now.nanoseconds) / Double(period.nanoseconds)
        report.messagesPerMemberPerPeriod = Double(sim.datagramsSent) / (Double(sim.memberCount) * max(1, periods))
        report.log(sim.now, "end: \(sim.datagramsSent) datagrams, \(sim.pushPullsStarted) push-pulls, \(sim.eventsProcessed) events")
        sim.onMemberEvent = nil
        return report
    }
}
