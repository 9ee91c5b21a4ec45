import DiscoCore
import DiscoTestKit
import LeaseCore
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `disco-sim lease`: runs hot/cold lease simulator seeds.
///
///     disco-sim lease [--seeds N] [--first-seed F] [--seed S] [--scenario chaos|kill-hot|kill-hot-leader|kill-leader|transfer-from-hot|zombie|hand-over|failover]
///                     [--replicas R] [--chaos-seconds C] [--verbose]
///                     [--lease-ttl D] [--lease-renew-deadline D] [--lease-renew D] [--lease-max-drift X]   (validated)
///                     [--other-lease-ttl D] [--other-lease-renew-deadline D] [--other-lease-renew D]
///                         (validated settings of r2, r4, …: replicas that disagree, as in a rolling change)
///                     [--unsafe-lease-renew-deadline D] [--clock-drift X]   (break the rules: violations expected)
///
/// `--scenario failover` runs the three kill scenarios, the leadership transfer, the zombie (the
/// hot's process replaced while the old one runs on, cut off) and the graceful hand-over (a stop or
/// a move while a write is in flight) and prints their fail-over times. The last
/// line is always `lease: N seeds, V violations`; the exit status is 1 when there were violations.
enum LeaseSimCommand {
    struct Arguments {
        var seeds: UInt64 = 100
        var firstSeed: UInt64 = 0
        var verbose = false
        var scenarios: [LeaseScenario] = [.chaos]
        var replicas: Int?
        var chaosSeconds = 10
        var settings = LeaseSettings()
        /// The settings of r2, r4, … (`--other-lease-*`); nil: all replicas use `settings`.
        var otherSettings: LeaseSettings?
        var unsafeRenewDeadline: Duration?
        var clockDrift: Double?
        /// The arguments that shape a run (all but the seed selection), to print in replay hints.
        var shaping: [String] = []
    }

    struct UsageError: Error { let message: String }

    static func parse(_ arguments: [String]) throws(UsageError) -> Arguments {
        var parsed = Arguments()
        var iterator = arguments.makeIterator()
        func value(_ flag: String) throws(UsageError) -> String {
            guard let text = iterator.next() else { throw UsageError(message: "\(flag) needs a value") }
            return text
        }
        func number(_ flag: String, in range: ClosedRange<UInt64> = 0...UInt64.max) throws(UsageError) -> UInt64 {
            let text = try value(flag)
            guard let parsed = UInt64(text), range.contains(parsed) else {
                throw UsageError(message: "\(flag) expects a whole number in \(range.lowerBound)...\(range.upperBound), got \"\(text)\"")
            }
            return parsed
        }
        func duration(_ flag: String) throws(UsageError) -> Duration {
            let text = try value(flag)
            do { return try GoDuration.parse(text) } catch { throw UsageError(message: "\(flag): \(error)") }
        }
        func fraction(_ flag: String) throws(UsageError) -> Double {
            let text = try value(flag)
            guard let parsed = Double(text), parsed.isFinite, parsed >= 0, parsed < 1 else {
                throw UsageError(message: "\(flag) expects a fraction in 0..<1 (0.01 is 1 %), got \"\(text)\"")
            }
            return parsed
        }
        let seedFlags: Set<String> = ["--seeds", "-seeds", "--first-seed", "-first-seed", "--seed", "-seed", "--scenario", "-scenario"]
        var skipNext = false
        for argument in arguments {
            if skipNext { skipNext = false; continue }
            if seedFlags.contains(argument) { skipNext = true; continue }
            if !["--verbose", "-verbose", "-v"].contains(argument) { parsed.shaping.append(argument) }
        }
        var other = LeaseSettings()
        while let flag = iterator.next() {
            if flag.hasPrefix("--other-lease-") || flag.hasPrefix("-other-lease-") { parsed.otherSettings = other }
            switch flag {
            case "--seeds", "-seeds": parsed.seeds = try number(flag, in: 1...UInt64.max)
            case "--first-seed", "-first-seed": parsed.firstSeed = try number(flag)
            case "--seed", "-seed":
                parsed.firstSeed = try number(flag)
                parsed.seeds = 1
                parsed.verbose = true
            case "--scenario", "-scenario":
                let text = try value(flag)
                if text == "failover" {
                    parsed.scenarios = [.killHot, .killHotLeader, .killLeader, .transferFromHot, .zombie, .handOver]
                } else if let scenario = LeaseScenario.allCases.first(where: { name(of: $0) == text }) {
                    parsed.scenarios = [scenario]
                } else {
                    throw UsageError(message: "--scenario expects chaos, kill-hot, kill-hot-leader, kill-leader, transfer-from-hot, zombie, hand-over or failover, got \"\(text)\"")
                }
            case "--replicas", "-replicas": parsed.replicas = Int(try number(flag, in: 2...9))
            case "--chaos-seconds", "-chaos-seconds": parsed.chaosSeconds = Int(try number(flag, in: 1...3600))
            case "--lease-ttl", "-lease-ttl": parsed.settings.ttl = try duration(flag)
            case "--lease-renew-deadline", "-lease-renew-deadline": parsed.settings.renewDeadline = try duration(flag)
            case "--lease-renew", "-lease-renew": parsed.settings.renewPeriod = try duration(flag)
            case "--lease-max-drift", "-lease-max-drift": parsed.settings.maxDrift = try fraction(flag)
            case "--other-lease-ttl", "-other-lease-ttl": other.ttl = try duration(flag)
            case "--other-lease-renew-deadline", "-other-lease-renew-deadline": other.renewDeadline = try duration(flag)
            case "--other-lease-renew", "-other-lease-renew": other.renewPeriod = try duration(flag)
            case "--unsafe-lease-renew-deadline", "-unsafe-lease-renew-deadline": parsed.unsafeRenewDeadline = try duration(flag)
            case "--clock-drift", "-clock-drift": parsed.clockDrift = try fraction(flag)
            case "--verbose", "-verbose", "-v": parsed.verbose = true
            default:
                throw UsageError(message: "unknown flag \"\(flag)\"; expected --seeds, --first-seed, --seed, --scenario, --replicas, "
                    + "--chaos-seconds, --lease-ttl, --lease-renew-deadline, --lease-renew, --lease-max-drift, --other-lease-ttl, "
                    + "--other-lease-renew-deadline, --other-lease-renew, "
                    + "--unsafe-lease-renew-deadline, --clock-drift or --verbose")
            }
        }
        if let deadline = parsed.unsafeRenewDeadline {
            parsed.settings = .unchecked(ttl: parsed.settings.ttl, renewDeadline: deadline, renewPeriod: parsed.settings.renewPeriod,
                                         maxDrift: parsed.settings.maxDrift)
        } else {
            do { try parsed.settings.validate() } catch { throw UsageError(message: "\(error)") }
        }
        if parsed.otherSettings != nil {
            parsed.otherSettings = other
            do { try other.validate() } catch { throw UsageError(message: "r2, r4, …: \(error)") }
        }
        return parsed
    }

    static func name(of scenario: LeaseScenario) -> String {
        switch scenario {
        case .chaos: "chaos"
        case .killHot: "kill-hot"
        case .killHotLeader: "kill-hot-leader"
        case .killLeader: "kill-leader"
        case .transferFromHot: "transfer-from-hot"
        case .zombie: "zombie"
        case .handOver: "hand-over"
        }
    }

    static func run(_ arguments: [String]) -> Int32 {
        let parsed: Arguments
        do {
            parsed = try parse(arguments)
        } catch {
            fputs("disco-sim lease: \(error.message)\n", stderr)
            return 2
        }
        var violations = 0
        var seedsRun: UInt64 = 0
        for scenario in parsed.scenarios {
            var failovers: [Double] = []
            var stepDowns = 0
            var suspensions = 0
            var grants: UInt64 = 0
            var rejected = 0
            var drains = 0
            var drainTimeouts = 0
            for offset in 0..<parsed.seeds {
                let seed = parsed.firstSeed &+ offset
                var options = LeaseSimulationOptions(seed: seed, scenario: scenario)
                options.settings = parsed.settings
                options.otherSettings = parsed.otherSettings
                options.clockDrift = parsed.clockDrift
                options.replicas = parsed.replicas ?? (scenario == .chaos ? nil : 3)
                options.chaosDuration = .seconds(parsed.chaosSeconds)
                options.traceLimit = parsed.verbose ? 400 : 40
                let result = LeaseSimulation.run(options)
                seedsRun += 1
                grants += result.grants
                rejected += result.rejectedWrites
                if let failover = result.failover { failovers.append(Double(failover.nanoseconds) / 1e6) }
                if result.hotSteppedDown { stepDowns += 1 }
                suspensions += result.suspensions
                drains += result.drains
                drainTimeouts += result.drainTimeouts
                if !result.violations.isEmpty {
                    violations += 1
                    let replay = (["--seed", "\(seed)", "--scenario", name(of: scenario)] + parsed.shaping).joined(separator: " ")
                    print("seed \(seed) (\(name(of: scenario)), \(result.replicas) replicas): VIOLATION (replay with disco-sim lease \(replay))")
                    for violation in result.violations { print("  \(violation)") }
                    print("  last events:")
                    for line in result.trace { print("    \(line)") }
                } else if parsed.verbose {
                    if parsed.seeds == 1 { for line in result.trace { print("    \(line)") } }
                    print("seed \(seed): ok, \(result.replicas) replicas, \(result.grants) grants, \(result.acceptedWrites) writes accepted, "
                        + "\(result.rejectedWrites) fenced off, \(result.events) events, trace hash \(String(result.traceHash, radix: 16))")
                }
            }
            print("\(name(of: scenario)): \(parsed.seeds) seeds, \(grants) grants, \(rejected) stale writes fenced off by the backend")
            if !failovers.isEmpty {
                let start = switch scenario {
                case .zombie: "the hot cut off and replaced"
                case .handOver: "stop or move"
                default: "kill"
                }
                print("  fail-over (\(start) → first write with a newer token), ms: \(summary(failovers))")
            }
            print("  the hot suspended acting at its renew deadline \(suspensions) times")
            if drains > 0 {
                print("  a hand-over waited for writes in flight \(drains) times, \(drainTimeouts) of them until the drain timeout")
            }
            if scenario == .killLeader || scenario == .transferFromHot {
                print("  the hot replica became cold while the leader was replaced in \(stepDowns) of \(parsed.seeds) seeds")
            }
        }
        print("lease: \(seedsRun) seeds, \(violations) violations")
        return violations == 0 ? 0 : 1
    }

    static func summary(_ values: [Double]) -> String {
        let sorted = values.sorted()
        func at(_ fraction: Double) -> String {
            String(Int(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))].rounded()))
        }
        return "min \(Int(sorted[0].rounded())) median \(at(0.5)) p90 \(at(0.9)) p99 \(at(0.99)) max \(Int(sorted[sorted.count - 1].rounded())) (n=\(sorted.count))"
    }
}
