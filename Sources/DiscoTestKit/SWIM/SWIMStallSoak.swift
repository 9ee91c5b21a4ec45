import DiscoCore
import DiscoSWIM

// MARK: - Stall soak

/// Results of a long run in which one member is repeatedly starved of CPU.
public struct SWIMSoakReport: Sendable {
    public var lines: [String] = []
    public var violations: [String] = []
    /// Times the starved member was suspected by someone (each later refuted).
    public var suspicionsOfStarvedMember = 0
    /// Stalls injected.
    public var stalls = 0
}

/// The simulated counterpart of the real-process check "one member is stopped for 300 ms,
/// again and again, for ten minutes": default settings, 1 % loss, `members` nodes, member 1
/// stalled for `stall` every 0.4–1.2 s after the previous stall ended. No member may ever be
/// declared dead.
public enum SWIMStallSoak {
    public static func run(seed: UInt64, members: Int = 10, duration: Duration = .seconds(600),
                           stall: Duration = .milliseconds(300), settings: SWIM.Settings = SWIM.Settings()) -> SWIMSoakReport {
        var report = SWIMSoakReport()
        var random = DeterministicRandom(seed: seed ^ 0x534F_414B)
        let faults = NetworkFaults(lossRate: 0.01, duplicateRate: 0.01, minDelay: .microseconds(500), maxDelay: .milliseconds(3))
        let sim = SWIMSimulation(memberCount: members, seed: seed, settings: settings, faults: faults)
        let starved = 1
        sim.onMemberEvent = { observer, event, time in
            switch event {
            case .dead(let member):
                report.violations.append("t=\(SWIMScenario.format(time)) n\(observer) declared \(member.id)#\(member.incarnation) dead")
            case .suspect(let member) where member.id == sim.id(of: starved):
                report.suspicionsOfStarvedMember += 1
            default:
                break
            }
        }
        sim.start(0, seeds: [])
        for node in 1..<members { sim.start(node, seeds: [0]) }
        sim.run(until: .seconds(5))
        var time = sim.now
        let end = sim.now + duration
        while time < end {
            let stallEnd = time + stall
            sim.schedule(at: time) { $0.stall(starved, until: stallEnd) }
            report.stalls += 1
            time = stallEnd + .milliseconds(Int64.random(in: 400...1200, using: &random))
        }
        sim.run(until: end + .seconds(5))
        for observer in 0..<members {
            for subject in 0..<members where subject != observer && sim.status(seenBy: observer, of: subject) != .alive {
                report.violations.append("at the end n\(observer) sees n\(subject) as \(sim.status(seenBy: observer, of: subject).map { "\($0)" } ?? "unknown")")
            }
        }
        report.violations.append(contentsOf: sim.trafficViolations)
        report.violations.append(contentsOf: sim.nodeIDConflictViolations)
        sim.onMemberEvent = nil
        report.lines = [
            "stall soak: \(members) members, seed \(seed), \(SWIMScenario.format(duration)) s, \(report.stalls) stalls of \(stall) on n\(starved), loss 1%",
            "suspicions of the starved member (all refuted unless listed below): \(report.suspicionsOfStarvedMember)",
            "members declared dead: \(report.violations.filter { $0.contains("dead") }.count)",
        ]
        return report
    }
}
