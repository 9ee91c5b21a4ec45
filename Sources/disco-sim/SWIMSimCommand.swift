import DiscoCore
import DiscoSWIM
import DiscoTestKit
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `disco-sim swim`: runs SWIM simulator seeds.
///
/// `--seeds N [--first-seed F]` runs N seeded scenarios (5–9 members unless `--members M`);
/// `--seed S` runs one and prints its whole trace. With `--members` of 100 or more, each seed
/// is a scale run instead: a converged cluster of M members, one join and one crash, reporting
/// dissemination periods and messages per member per period. `--soak SECONDS` instead runs a
/// 10-member cluster (or `--members`) in which one member stalls for 300 ms again and again for
/// that long (virtual time), per seed. `--encrypted` seals every message of the scenarios on
/// the simulated wire as an encrypting shell does (AES-256-GCM under a fixed test key), so the
/// cores run with packets smaller by the envelope. The last line is always
/// `swim: N seeds, V violations`; the exit status is 1 when there were violations.
enum SWIMSimCommand {
    struct Options {
        var seeds = 100
        var firstSeed: UInt64 = 1
        var singleSeed: UInt64?
        var members: Int?
        var soakSeconds: Int?
        var encrypted = false
    }

    static func run(_ arguments: [String]) -> Int32 {
        let options: Options
        do { options = try parse(arguments) } catch {
            fputs("disco-sim swim: \(error)\nusage: disco-sim swim [--seeds N] [--first-seed F] [--seed S] [--members M] [--soak SECONDS] [--encrypted]\n", stderr)
            return 2
        }
        let seeds: [UInt64] = options.singleSeed.map { [$0] } ?? (0..<options.seeds).map { options.firstSeed + UInt64($0) }
        if let soak = options.soakSeconds {
            return runSoak(seeds: seeds, members: options.members ?? 10, seconds: soak)
        }
        if let members = options.members, members >= 100 {
            return runScale(seeds: seeds, members: members)
        }
        return runScenarios(seeds: seeds, members: options.members, verbose: options.singleSeed != nil, encrypted: options.encrypted)
    }

    // MARK: Small scenarios

    /// `--encrypted`: every message sealed on the simulated wire under a fixed test key.
    static let simulationSealer = SWIM.GossipSealer(
        keyring: GossipKeyring(primary: GossipKey(bytes: [UInt8](repeating: 0x5E, count: GossipKey.byteCount))!), label: "disco-sim")

    static func runScenarios(seeds: [UInt64], members: Int?, verbose: Bool, encrypted: Bool) -> Int32 {
        let sealer = encrypted ? simulationSealer : nil
        var violations = 0
        var detection: [Double] = []
        var joins: [Double] = []
        var lateJoins: [Double] = []
        var heals: [Double] = []
        var load: [Double] = []
        var joinsMeasured = 0
        var joinsWithinTarget = 0
        var partitionEraDeaths = 0
        for seed in seeds {
            let report = SWIMScenario.run(seed: seed, members: members, sealer: sealer)
            if verbose { for line in report.trace { print(line) } }
            if !report.violations.isEmpty {
                violations += report.violations.count
                print("seed \(seed) (\(report.members) members, \(report.kind.rawValue), loss \(report.lossRate)): \(report.violations.count) violation(s)")
                for line in report.violations { print("  \(line)") }
                if !verbose {
                    print("  trace (last 40 lines; replay with --seed \(seed)\(encrypted ? " --encrypted" : "")):")
                    for line in report.trace.suffix(40) { print("    \(line)") }
                }
            }
            if let value = report.crashDetection { detection.append(seconds(value)) }
            if let value = report.initialJoinPeriods { joins.append(value) }
            if let value = report.lateJoinPeriods { lateJoins.append(value) }
            if let value = report.healConvergence { heals.append(seconds(value)) }
            load.append(report.messagesPerMemberPerPeriod)
            joinsMeasured += report.joinsMeasured
            joinsWithinTarget += report.joinsWithinTarget
            partitionEraDeaths += report.partitionEraDeaths
        }
        let largest = members ?? 9
        print("bounds at \(largest) members: \(SWIMScenario.bounds(settings: .testing, members: largest))")
        print("crash detection (s):           \(summary(detection))")
        print("initial join (periods):        \(summary(joins))")
        print("late join (periods):           \(summary(lateJoins))")
        print("heal convergence (s):          \(summary(heals))")
        print("joins within 2·ceil(log2 n) periods: \(joinsWithinTarget) of \(joinsMeasured) (the rest via push-pull)")
        print("same-side deaths during partitions (not violations): \(partitionEraDeaths)")
        print("datagrams/member/period:       \(summary(load))")
        print("swim: \(seeds.count) seeds, \(violations) violations")
        return violations == 0 ? 0 : 1
    }

    // MARK: Scale runs

    static func runScale(seeds: [UInt64], members: Int) -> Int32 {
        var violations = 0
        for seed in seeds {
            let report = SWIMScaleRun.run(seed: seed, members: members)
            for line in report.lines { print(line) }
            violations += report.violations.count
            for line in report.violations { print("seed \(seed): \(line)") }
        }
        print("swim: \(seeds.count) seeds, \(violations) violations")
        return violations == 0 ? 0 : 1
    }

    static func runSoak(seeds: [UInt64], members: Int, seconds: Int) -> Int32 {
        var violations = 0
        for seed in seeds {
            let report = SWIMStallSoak.run(seed: seed, members: members, duration: .seconds(seconds))
            for line in report.lines { print(line) }
            violations += report.violations.count
            for line in report.violations.prefix(20) { print("seed \(seed): \(line)") }
        }
        print("swim: \(seeds.count) seeds, \(violations) violations")
        return violations == 0 ? 0 : 1
    }

    // MARK: Helpers

    static func seconds(_ value: Duration) -> Double { Double(value.nanoseconds) / 1e9 }

    static func summary(_ values: [Double]) -> String {
        guard !values.isEmpty else { return "n/a" }
        let sorted = values.sorted()
        let mean = values.reduce(0, +) / Double(values.count)
        let p99 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
        return "mean \(fixed(mean)) p99 \(fixed(p99)) max \(fixed(sorted[sorted.count - 1])) (n=\(values.count))"
    }

    static func fixed(_ value: Double) -> String {
        let scaled = Int((value * 100).rounded())
        let fraction = String(abs(scaled) % 100)
        return "\(scaled / 100).\(fraction.count == 1 ? "0" : "")\(fraction)"
    }

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ arguments: [String]) throws -> Options {
        var options = Options()
        var index = 0
        func value(_ flag: String) throws -> String {
            index += 1
            guard index < arguments.count else { throw UsageError(description: "\(flag) needs a value") }
            return arguments[index]
        }
        func number<T: FixedWidthInteger>(_ flag: String, _ text: String, minimum: T) throws -> T {
            guard let parsed = T(text), parsed >= minimum else {
                throw UsageError(description: "\(flag) \(text.debugDescription) is not a whole number ≥ \(minimum)")
            }
            return parsed
        }
        while index < arguments.count {
            let argument = arguments[index]
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            let flag = parts[0].hasPrefix("--") ? String(parts[0].dropFirst()) : parts[0]
            let inline = parts.count == 2 ? parts[1] : nil
            switch flag {
            case "-seeds": options.seeds = try number("--seeds", inline ?? value(argument), minimum: 1)
            case "-first-seed": options.firstSeed = try number("--first-seed", inline ?? value(argument), minimum: 0)
            case "-seed": options.singleSeed = try number("--seed", inline ?? value(argument), minimum: 0)
            case "-members": options.members = try number("--members", inline ?? value(argument), minimum: 5)
            case "-soak": options.soakSeconds = try number("--soak", inline ?? value(argument), minimum: 1)
            case "-encrypted": options.encrypted = true
            default:
                throw UsageError(description: "unknown argument \(argument.debugDescription) "
                                 + "(expected --seeds, --first-seed, --seed, --members, --soak or --encrypted)")
            }
            index += 1
        }
        return options
    }
}
