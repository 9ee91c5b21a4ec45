import DiscoCore
import DiscoTestKit
import SWIMCore
import Testing

// MARK: - Duplicate IDs and restarts elsewhere, in the seeded simulator

@Suite struct NodeIDConflictSimulationTests {
    /// A second live node with n2's ID, at another address: within a minute of virtual time,
    /// a node with that ID reports the conflict and names both addresses.
    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func duplicateIDIsReported(seed: UInt64) {
        let sim = SWIMSimulation(memberCount: 6, seed: seed, faults: NetworkFaults(lossRate: 0.05), converged: true)
        sim.run(until: .seconds(2))
        let duplicate = sim.addNode(sharingIDWith: 2)
        sim.start(duplicate, seeds: [0])
        sim.run(until: .seconds(60))
        let conflicts = sim.nodeIDConflicts
        #expect(!conflicts.isEmpty, "seed \(seed): nobody reported the duplicate")
        for (node, conflict, _) in conflicts {
            #expect(node == 2 || node == duplicate)
            #expect(conflict.id == sim.id(of: 2))
            let pair: Set = [conflict.localAddress, conflict.otherAddress]
            #expect(pair == [sim.address(of: 2), sim.address(of: duplicate)])
        }
        #expect(sim.trafficViolations.isEmpty)
    }

    /// The same member restarted at a new address once the old process is dead, at once (its
    /// old record still alive everywhere) or later, with loss, sometimes while a partition keeps
    /// the old record on one side until it heals: no node ever reports a conflict.
    @Test(arguments: 0..<4)
    func memberRestartedAtANewAddressIsNotReported(batch: Int) async {
        for seed in UInt64(batch * 25 + 1)...UInt64(batch * 25 + 25) {
            let conflicts = await CPUBoundWork.run { Self.restartElsewhere(seed: seed) }
            #expect(conflicts.isEmpty, "seed \(seed): \(conflicts)")
        }
    }

    static func restartElsewhere(seed: UInt64) -> [String] {
        var random = DeterministicRandom(seed: seed &* 7919)
        let members = Int.random(in: 4...8, using: &random)
        let loss = Double.random(in: 0...0.1, using: &random)
        let sim = SWIMSimulation(memberCount: members, seed: seed, faults: NetworkFaults(lossRate: loss), converged: true)
        let victim = Int.random(in: 1..<members, using: &random)
        var current = victim
        var time = Duration.seconds(2)
        sim.run(until: time)
        for _ in 0..<3 {
            let partitioned = Bool.random(using: &random)
            if partitioned {
                let others = (0..<members).filter { $0 != victim }
                let split = Int.random(in: 1..<others.count, using: &random)
                sim.network.partition([Array(others[..<split]) + [current], Array(others[split...])])
            }
            // The old process may change its incarnation before it dies (metadata, refutations).
            sim.run(until: time + .milliseconds(Int64.random(in: 100...3000, using: &random)))
            sim.crash(current)
            let restarted = sim.addNode(sharingIDWith: victim)
            let delay = Int.random(in: 0..<3, using: &random) == 0 ? Duration.milliseconds(50) : .seconds(8)
            sim.run(until: sim.now + delay)
            let candidates = (0..<members).filter { $0 != victim && sim.isUp($0) }
            sim.start(restarted, seeds: [candidates[Int.random(in: 0..<candidates.count, using: &random)]])
            current = restarted
            if partitioned {
                sim.run(until: sim.now + .seconds(Int64.random(in: 1...10, using: &random)))
                sim.network.heal()
            }
            time = sim.now + .seconds(20)
            sim.run(until: time)
        }
        sim.run(until: sim.now + .seconds(150))
        return sim.nodeIDConflictViolations + sim.trafficViolations
    }
}
