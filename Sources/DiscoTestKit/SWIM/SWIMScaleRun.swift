import DiscoCore
import DiscoSWIM

// MARK: - Scale run

/// Results of a large-cluster run.
public struct SWIMScaleReport: Sendable {
    /// Human-readable results, one per line.
    public var lines: [String] = []
    public var violations: [String] = []
    /// Protocol periods until every member knew a newcomer.
    public var joinPeriods: Double?
    /// Seconds from a crash until every live member declared it dead.
    public var crashDetection: Double?
    /// Datagrams each member sent per protocol period while nothing happened.
    public var steadyMessagesPerMemberPerPeriod: Double = 0
    /// Datagrams each member sent per protocol period while a join spread.
    public var joinMessagesPerMemberPerPeriod: Double = 0
}

/// A converged cluster of many members (one shared snapshot, so memory stays near O(M)) with
/// default settings, 1 % loss: measures steady load, how fast one join spreads, and how fast
/// one crash is detected everywhere.
public enum SWIMScaleRun {
    public static func run(seed: UInt64, members: Int, settings: SWIM.Settings = SWIM.Settings()) -> SWIMScaleReport {
        var report = SWIMScaleReport()
        var random = DeterministicRandom(seed: seed ^ 0x5343_414C_4552_554E)
        let faults = NetworkFaults(lossRate: 0.01, minDelay: .microseconds(500), maxDelay: .milliseconds(3))
        let sim = SWIMSimulation(memberCount: members, seed: seed, settings: settings, faults: faults, converged: true)
        let period = settings.probeInterval
        func periods(_ value: Duration) -> Double { Double(value.nanoseconds) / Double(period.nanoseconds) }

        var knowsNewcomer = [Bool](repeating: false, count: members + 1)
        var knowCount = 0
        var declaredDead = [Bool](repeating: false, count: members + 1)
        var deadCount = 0
        var crashed = -1
        var falseDeaths = 0
        sim.onMemberEvent = { observer, event, _ in
            guard let subject = sim.index(of: event.member.id) else { return }
            switch event {
            case .joined where subject == members && !knowsNewcomer[observer]:
                knowsNewcomer[observer] = true
                knowCount += 1
            case .dead where subject == crashed:
                if !declaredDead[observer] {
                    declaredDead[observer] = true
                    deadCount += 1
                }
            case .dead:
                falseDeaths += 1
            default:
                break
            }
        }

        // Steady state: ten periods of warm-up, then ten measured.
        sim.run(until: period * 10)
        let steadyStart = sim.datagramsSent
        sim.run(until: period * 20)
        report.steadyMessagesPerMemberPerPeriod = Double(sim.datagramsSent - steadyStart) / Double(members * 10)

        // One join through a random seed.
        let newcomer = sim.addNode()
        let seedNode = Int.random(in: 0..<members, using: &random)
        let joinStart = sim.now
        let joinDatagrams = sim.datagramsSent
        sim.start(newcomer, seeds: [seedNode])
        let joinLimit = joinStart + period * 200
        while knowCount < members, sim.now < joinLimit { sim.run(until: sim.now + .milliseconds(10)) }
        if knowCount >= members {
            report.joinPeriods = periods(sim.now - joinStart)
            // Load while the join spreads, over at least ten periods.
            sim.run(until: max(sim.now, joinStart + period * 10))
            let window = periods(sim.now - joinStart)
            report.joinMessagesPerMemberPerPeriod = Double(sim.datagramsSent - joinDatagrams) / (Double(members + 1) * window)
        } else {
            report.violations.append("join reached only \(knowCount) of \(members) members in 200 periods")
        }

        // One crash.
        crashed = Int.random(in: 0..<members, using: &random)
        sim.crash(crashed)
        let crashStart = sim.now
        let liveOthers = members  // everyone but the crashed member, plus the newcomer
        let crashLimit = crashStart + .seconds(60)
        while deadCount < liveOthers, sim.now < crashLimit { sim.run(until: sim.now + .milliseconds(10)) }
        if deadCount >= liveOthers {
            report.crashDetection = Double((sim.now - crashStart).nanoseconds) / 1e9
        } else {
            report.violations.append("crash declared by only \(deadCount) of \(liveOthers) live members within 60 s")
        }
        if falseDeaths > 0 { report.violations.append("\(falseDeaths) live members were declared dead") }
        report.violations.append(contentsOf: sim.trafficViolations)
        report.violations.append(contentsOf: sim.nodeIDConflictViolations)
        sim.onMemberEvent = nil

        let log2m = SWIMScenario.log2(Double(members))
        report.lines = [
            "members: \(members), seed \(seed), loss 1%, probe interval \(period)",
            "steady load: \(format(report.steadyMessagesPerMemberPerPeriod)) datagrams/member/period",
            "join spread to all: \(report.joinPeriods.map(format) ?? "n/a") periods (goal ≤ 2·log2(M) = \(format(2 * log2m))), \(format(report.joinMessagesPerMemberPerPeriod)) datagrams/member/period over the first ≥ 10 periods",
            "crash declared dead by all: \(report.crashDetection.map(format) ?? "n/a") s",
            "events processed: \(sim.eventsProcessed), datagrams: \(sim.datagramsSent)",
        ]
        return report
    }

    static func format(_ value: Double) -> String {
        let scaled = Int((value * 100).rounded())
        let fraction = String(scaled % 100)
        return "\(scaled / 100).\(fraction.count == 1 ? "0" : "")\(fraction)"
    }
}
