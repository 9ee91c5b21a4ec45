import DiscoTestKit
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `disco-sim ratelimit`: runs rate-limiter simulator seeds, or its benchmark.
///
///     disco-sim ratelimit [--seeds N] [--first-seed F] [--seed S] [--steps K]
///     disco-sim ratelimit --shared [--seeds N] [--first-seed F]
///     disco-sim ratelimit --bench [--keys K] [--decisions D]
///
/// Each seed is a random trace of requests through `RateLimiter`, checked after every request
/// against a plain second implementation and the zones' memory, and at the end against the
/// leaky bucket's bounds. `--seed S` prints the seed's scenario and last requests. The last line
/// is `ratelimit: N seeds, V violations`; the exit status is 1 when there were violations.
/// `--shared` runs replicas sharing a zone through exchanged counts instead, checks the
/// documented bound on what the cluster admits, and prints how much of its excess term the
/// worst window used, with and without the exchange.
enum RateLimitSimCommand {
    struct Options {
        var seeds: UInt64 = 1000
        var firstSeed: UInt64 = 0
        var verbose = false
        var steps = 400
        var bench = false
        var shared = false
        var keys = 1_000_000
        var decisions = 5_000_000
    }

    struct UsageError: Error, CustomStringConvertible { let description: String }

    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var iterator = arguments.makeIterator()
        func number(_ flag: String, in range: ClosedRange<UInt64>) throws(UsageError) -> UInt64 {
            guard let text = iterator.next(), let value = UInt64(text), range.contains(value) else {
                throw UsageError(description: "\(flag) expects an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        while let flag = iterator.next() {
            switch flag {
            case "--seeds", "-seeds": options.seeds = try number(flag, in: 1...100_000_000)
            case "--first-seed", "-first-seed": options.firstSeed = try number(flag, in: 0...UInt64.max)
            case "--seed", "-seed":
                options.firstSeed = try number(flag, in: 0...UInt64.max)
                options.seeds = 1
                options.verbose = true
            case "--steps", "-steps": options.steps = Int(try number(flag, in: 1...1_000_000))
            case "--bench", "-bench": options.bench = true
            case "--shared", "-shared": options.shared = true
            case "--keys", "-keys": options.keys = Int(try number(flag, in: 1...100_000_000))
            case "--decisions", "-decisions": options.decisions = Int(try number(flag, in: 1...1_000_000_000))
            default:
                throw UsageError(description: "unknown flag \"\(flag)\"; expected --seeds, --first-seed, --seed, --steps, --shared, --bench, --keys or --decisions")
            }
        }
        return options
    }

    static func run(_ arguments: [String]) -> Int32 {
        let options: Options
        do { options = try parse(arguments) } catch {
            fputs("disco-sim ratelimit: \(error)\n", stderr)
            return 2
        }
        if options.bench { return RateLimitBenchmark.run(keys: options.keys, decisions: options.decisions) }
        if options.shared { return runShared(options) }
        var violations = 0
        var requests = 0
        var evictions = 0
        for offset in 0..<options.seeds {
            let seed = options.firstSeed &+ offset
            var simulation = RateLimitSimulation(seed: seed, steps: options.steps)
            let report = simulation.run()
            requests += report.requests
            evictions += report.evictions
            if !report.violations.isEmpty {
                violations += 1
                print("seed \(seed): VIOLATION")
                for violation in report.violations { print("  \(violation)") }
                print("  scenario and last requests (replay with --seed \(seed)):")
                for line in report.trace { print("    \(line)") }
            } else if options.verbose {
                for line in report.trace { print("    \(line)") }
                print("seed \(seed): ok, \(report.requests) requests, \(report.outcomes.sorted { $0.key < $1.key })")
            }
        }
        print("ratelimit: \(options.seeds) seeds, \(requests) requests, \(evictions) with states freed or evicted, \(violations) violations")
        return violations == 0 ? 0 : 1
    }
}

// MARK: - Shared zones

extension RateLimitSimCommand {
    static func runShared(_ options: Options) -> Int32 {
        var violations = 0
        var used: [Double] = []
        var unshared: [Double] = []
        for offset in 0..<options.seeds {
            let seed = options.firstSeed &+ offset
            var simulation = SharedZoneSimulation(seed: seed)
            let report = simulation.run()
            var alone = SharedZoneSimulation(seed: seed, exchange: false)
            let without = alone.run()
            used.append(report.excessUsed)
            unshared.append(without.excessUsed)
            if !report.violations.isEmpty {
                violations += 1
                print("seed \(seed) (\(report.description)): VIOLATION \(report.violations.joined(separator: "; "))")
            } else if options.verbose {
                print("seed \(seed) (\(report.description)): \(report.admitted) of \(report.requests) admitted, "
                    + "excess term used \(percent(report.excessUsed)), without the exchange \(percent(without.excessUsed))")
            }
        }
        let sortedUsed = used.sorted()
        let sortedUnshared = unshared.sorted()
        print("ratelimit --shared: worst window used \(percent(sortedUsed.last ?? 0)) of the bound's excess term "
            + "(median \(percent(sortedUsed[sortedUsed.count / 2]))); without the exchange the same traces reach "
            + "\(percent(sortedUnshared.last ?? 0)) (median \(percent(sortedUnshared[sortedUnshared.count / 2])))")
        print("ratelimit: \(options.seeds) seeds, \(violations) violations")
        return violations == 0 ? 0 : 1
    }

    static func percent(_ value: Double) -> String { "\(Int((value * 100).rounded()))%" }
}
