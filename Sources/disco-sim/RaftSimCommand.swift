import DiscoCore
import DiscoRaft
import DiscoTestKit
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// `disco-sim raft`: runs Raft simulator seeds.
///
///     disco-sim raft [--scenario chaos|joins] [--seeds N] [--first-seed F] [--seed S]
///                    [--chaos-seconds C] [--verbose]
///                    [--lying-disk]   (inject lost fsyncs: the checker must report violations)
///                    [--promote-regardless]   (joins: promote learners that are behind; the
///                                              checker must report phantom voters)
///     disco-sim raft --bench [--proposals P] [--dir D]
enum RaftSimCommand {
    struct Arguments {
        var seeds: UInt64 = 100
        var firstSeed: UInt64 = 0
        var chaosSeconds = 20
        var verbose = false
        var bench = false
        var proposals = 200_000
        var directory = "/tmp"
        var lyingDisk = false
        var scenario = RaftScenario.chaos
        var promoteRegardless = false
    }

    struct UsageError: Error { let message: String }

    static func parse(_ arguments: [String]) throws(UsageError) -> Arguments {
        var parsed = Arguments()
        var iterator = arguments.makeIterator()
        func number(_ flag: String, in range: ClosedRange<UInt64> = 0...UInt64.max) throws(UsageError) -> UInt64 {
            guard let text = iterator.next() else { throw UsageError(message: "\(flag) needs a value") }
            guard let value = UInt64(text) else {
                throw UsageError(message: "\(flag) expects a non-negative integer, got \"\(text)\"")
            }
            guard range.contains(value) else {
                throw UsageError(message: "\(flag) must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
            }
            return value
        }
        while let flag = iterator.next() {
            switch flag {
            case "--seeds", "-seeds": parsed.seeds = try number(flag)
            case "--first-seed", "-first-seed": parsed.firstSeed = try number(flag)
            case "--seed", "-seed":
                parsed.firstSeed = try number(flag)
                parsed.seeds = 1
                parsed.verbose = true
            case "--chaos-seconds", "-chaos-seconds": parsed.chaosSeconds = Int(try number(flag, in: 1...3600))
            case "--proposals", "-proposals": parsed.proposals = Int(try number(flag, in: 1...100_000_000))
            case "--dir", "-dir":
                guard let value = iterator.next() else { throw UsageError(message: "\(flag) needs a directory") }
                parsed.directory = value
            case "--verbose", "-verbose", "-v": parsed.verbose = true
            case "--bench", "-bench": parsed.bench = true
            case "--lying-disk", "-lying-disk": parsed.lyingDisk = true
            case "--promote-regardless", "-promote-regardless": parsed.promoteRegardless = true
            case "--scenario", "-scenario":
                guard let text = iterator.next() else { throw UsageError(message: "\(flag) needs a value: chaos or joins") }
                guard let scenario = RaftScenario(rawValue: text) else {
                    throw UsageError(message: "\(flag) expects chaos or joins, got \"\(text)\"")
                }
                parsed.scenario = scenario
            default:
                throw UsageError(message: "unknown flag \"\(flag)\"; expected --scenario, --seeds, --first-seed, --seed, --chaos-seconds, --verbose, --lying-disk, --promote-regardless, --bench, --proposals or --dir")
            }
        }
        return parsed
    }

    static func run(_ arguments: [String]) -> Int32 {
        let parsed: Arguments
        do {
            parsed = try parse(arguments)
        } catch {
            fputs("disco-sim raft: \(error.message)\n", stderr)
            return 2
        }
        if parsed.bench { return runBenchmark(proposals: parsed.proposals, directory: parsed.directory) }
        var violations = 0
        var commits: UInt64 = 0
        for offset in 0..<parsed.seeds {
            let seed = parsed.firstSeed &+ offset
            var options = RaftSimulationOptions(seed: seed, chaosDuration: .seconds(parsed.chaosSeconds), scenario: parsed.scenario)
            options.traceLimit = parsed.verbose ? 5000 : 200
            options.lyingDisk = parsed.lyingDisk
            options.promoteRegardless = parsed.promoteRegardless
            let result = RaftSimulation.run(options)
            commits += result.committedEntries
            if !result.violations.isEmpty {
                violations += 1
                print("seed \(seed): VIOLATION")
                for violation in result.violations { print("  \(violation)") }
                print("  last events:")
                for line in result.trace { print("    \(line)") }
            } else if parsed.verbose {
                if parsed.seeds == 1 { for line in result.trace { print("    \(line)") } }
                print("seed \(seed): ok, \(result.committedEntries) entries committed, \(result.leaderTerms) leaders, \(result.events) events, trace hash \(String(result.traceHash, radix: 16))")
            }
        }
        print("raft \(parsed.scenario.rawValue): \(parsed.seeds) seeds, \(violations) violations")
        return violations == 0 ? 0 : 1
    }
}

// MARK: - Benchmark

extension RaftSimCommand {
    /// (a) committed proposals/s in memory, (b) durable proposals/s through the WAL (fsync per Ready).
    static func runBenchmark(proposals: Int, directory: String) -> Int32 {
        let batch = 256
        do {
            let memory = try RaftBenchmark.run(proposals: proposals, batch: batch) { _ in InMemoryRaftStorage() }
            print("raft-core in-memory: \(Int(memory.proposalsPerSecond)) committed proposals/s (3 nodes, \(memory.proposals) proposals, batch \(batch), no fsync)")
            let root = directory + "/disco-raft-bench-\(getpid())"
            defer { removeTree(root) }
            let durableCount = max(1, proposals / 4)
            let durable = try RaftBenchmark.run(proposals: durableCount, batch: batch) { id in
                try DurableRaftStorage(directory: root + "/" + id.rawValue)
            }
            print("raft-core durable: \(Int(durable.proposalsPerSecond)) committed proposals/s (3 nodes, \(durable.proposals) proposals, batch \(batch), \(durable.syncs) fsyncs in \(Double(Int(durable.seconds * 100)) / 100) s, WAL in \(directory))")
            let sequential = try RaftBenchmark.run(proposals: 2000, batch: 1) { id in
                try DurableRaftStorage(directory: root + "/sequential-" + id.rawValue)
            }
            print("raft-core durable, one proposal at a time: \(Int(sequential.proposalsPerSecond)) committed proposals/s (\(sequential.syncs) fsyncs)")
            print("raft-core: ours=\(Int(durable.proposalsPerSecond)) anchor=n/a ratio=n/a")
            return 0
        } catch {
            fputs("disco-sim raft --bench: \(error)\n", stderr)
            return 1
        }
    }

    private static func removeTree(_ path: String) {
        guard let directory = opendir(path) else { unlink(path); return }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != ".", name != ".." { removeTree(path + "/" + name) }
        }
        closedir(directory)
        rmdir(path)
    }
}
