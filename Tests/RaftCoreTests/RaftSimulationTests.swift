import DiscoTestKit
import Testing

// MARK: - Deterministic simulation

@Suite("Raft simulation")
struct RaftSimulationTests {
    /// 1,000 seeds in ten parallel chunks; each seed runs 6 virtual seconds of faults, then heals
    /// and must make progress within 30 virtual seconds.
    @Test("1,000 seeds hold every invariant", arguments: 0..<10)
    func thousandSeeds(chunk: Int) async {
        for seed in UInt64(chunk * 100)..<UInt64(chunk * 100 + 100) {
            let result = await CPUBoundWork.run { RaftSimulation.run(RaftSimulationOptions(seed: seed, chaosDuration: .seconds(6))) }
            #expect(result.violations.isEmpty,
                    "seed \(seed): \(result.violations.joined(separator: "; "))\n\(result.trace.suffix(40).joined(separator: "\n"))")
            if !result.violations.isEmpty { return }
        }
    }

    /// Joiners that never start, crash while catching up or after it; careless promotions; reaped
    /// learners and removed voters: no phantom voters and honest removals at every step, and
    /// progress after healing (`disco-sim raft --scenario joins` sweeps 10,000).
    @Test("200 seeds of joins hold every invariant", arguments: 0..<4)
    func joinSeeds(chunk: Int) async {
        for seed in UInt64(chunk * 50)..<UInt64(chunk * 50 + 50) {
            let options = RaftSimulationOptions(seed: seed, chaosDuration: .seconds(6), scenario: .joins)
            let result = await CPUBoundWork.run { RaftSimulation.run(options) }
            #expect(result.violations.isEmpty,
                    "seed \(seed): \(result.violations.joined(separator: "; "))\n\(result.trace.suffix(40).joined(separator: "\n"))")
            if !result.violations.isEmpty { return }
        }
    }

    @Test("promoting learners that are behind creates phantom voters, and the checker says so")
    func promotingRegardlessIsCaught() async {
        var caught: [String] = []
        for seed in 0..<UInt64(40) {
            var options = RaftSimulationOptions(seed: seed, chaosDuration: .seconds(6), scenario: .joins)
            options.promoteRegardless = true
            let result = await CPUBoundWork.run { [options] in RaftSimulation.run(options) }
            caught += result.violations.filter { $0.hasPrefix("phantom voters") }
        }
        #expect(caught.count >= 4, "phantom voters found in \(caught.count) of 40 seeds")
    }

    @Test("the same seed replays identically")
    func sameSeedSameTrace() async {
        await CPUBoundWork.runTest {
            for seed: UInt64 in [3, 77, 4242] {
                let first = RaftSimulation.run(RaftSimulationOptions(seed: seed, chaosDuration: .seconds(6)))
                let second = RaftSimulation.run(RaftSimulationOptions(seed: seed, chaosDuration: .seconds(6)))
                #expect(first.traceHash == second.traceHash)
                #expect(first.events == second.events)
                #expect(first.trace == second.trace)
            }
        }
    }

    @Test("different seeds take different paths")
    func differentSeedsDiffer() async {
        await CPUBoundWork.runTest {
            let first = RaftSimulation.run(RaftSimulationOptions(seed: 1, chaosDuration: .seconds(3)))
            let second = RaftSimulation.run(RaftSimulationOptions(seed: 2, chaosDuration: .seconds(3)))
            #expect(first.traceHash != second.traceHash)
        }
    }

    @Test("a disk that loses acknowledged writes is caught")
    func lyingDiskIsCaught() async {
        var caught = 0
        for seed in 0..<UInt64(50) {
            var options = RaftSimulationOptions(seed: seed, chaosDuration: .seconds(6))
            options.lyingDisk = true
            let result = await CPUBoundWork.run { [options] in RaftSimulation.run(options) }
            if !result.violations.isEmpty { caught += 1 }
        }
        #expect(caught > 10)
    }

    @Test("runs make progress")
    func runsCommitEntries() async {
        await CPUBoundWork.runTest {
            let result = RaftSimulation.run(RaftSimulationOptions(seed: 11, chaosDuration: .seconds(6)))
            #expect(result.committedEntries > 5)
            #expect(result.leaderTerms >= 1)
        }
    }
}
