import DiscoCore
import SWIMCore
import DiscoTestKit
import Testing

// MARK: - Seeded simulation of whole clusters

@Suite struct SimulationTests {
    /// 1,000 seeds in ten parallel batches: 5–9 members, 0–10 % loss (the tolerance), a starved member, and a
    /// crash + restart, a partition + heal, or a leave + late join.
    @Test(arguments: 0..<10)
    func propertiesHoldOverSeeds(batch: Int) async {
        for seed in UInt64(batch * 100 + 1)...UInt64(batch * 100 + 100) {
            let report = await CPUBoundWork.run { SWIMScenario.run(seed: seed) }
            if !report.violations.isEmpty {
                let trace = report.trace.suffix(60).joined(separator: "\n")
                Issue.record("""
                    seed \(seed) (\(report.members) members, \(report.kind.rawValue), loss \(report.lossRate)): \
                    \(report.violations.joined(separator: "; "))
                    replay: swift run disco-sim swim --seed \(seed)
                    \(trace)
                    """)
            }
        }
    }

    @Test func sameSeedGivesTheSameRun() async {
        await CPUBoundWork.runTest {
            for seed: UInt64 in [3, 17, 29] {
                let first = SWIMScenario.run(seed: seed)
                let second = SWIMScenario.run(seed: seed)
                #expect(first.trace == second.trace)
                #expect(first.digest == second.digest)
            }
            #expect(SWIMScenario.run(seed: 3).digest != SWIMScenario.run(seed: 6).digest)
        }
    }

    @Test func crashedMemberIsDetectedWithinTheBoundEverywhere() async {
        await CPUBoundWork.runTest {
            var worst = Duration.zero
            for seed in stride(from: UInt64(1000), to: 1090, by: 3) {
                let report = SWIMScenario.run(seed: seed, kind: .crashAndRestart)
                #expect(report.violations.isEmpty, "seed \(seed): \(report.violations)")
                if let detection = report.crashDetection { worst = max(worst, detection) }
            }
            let bound = SWIMScenario.bounds(settings: .testing, members: 9).crashDetection
            #expect(worst > .zero && worst <= bound)
        }
    }

    /// The checker must be able to fail: with a suspicion timeout shorter than the stalls,
    /// the starved member is declared dead and that is reported.
    @Test func checkerReportsFalsePositivesWhenSuspicionIsTooShort() async {
        await CPUBoundWork.runTest {
            var settings = SWIM.Settings.testing
            settings.suspicionMultiplier = 1
            settings.suspicionMaxTimeoutMultiplier = 1
            settings.gossipInterval = .milliseconds(400)
            var flagged = 0
            for seed: UInt64 in 1...30 where seed % 3 != 1 {
                let report = SWIMScenario.run(seed: seed, kind: .crashAndRestart, settings: settings)
                if report.violations.contains(where: { $0.contains("although it is live") }) { flagged += 1 }
            }
            #expect(flagged > 0)
        }
    }

    /// Lifeguard: a member stopped for 300 ms again and again is suspected but never declared dead.
    @Test func repeatedlyStalledMemberIsNeverDeclaredDead() async {
        await CPUBoundWork.runTest {
            let report = SWIMStallSoak.run(seed: 4, members: 10, duration: .seconds(60))
            #expect(report.violations.isEmpty, "\(report.violations)")
            #expect(report.stalls > 40)
            #expect(report.suspicionsOfStarvedMember > 0)  // the stalls were noticed
        }
    }

    @Test func convergedLargeClusterSpreadsAJoinAndDetectsACrash() async {
        await CPUBoundWork.runTest {
            let report = SWIMScaleRun.run(seed: 5, members: 120)
            #expect(report.violations.isEmpty, "\(report.violations)")
            #expect((report.joinPeriods ?? .infinity) <= 2 * 6.91)   // 2·log2(120)
            #expect(report.steadyMessagesPerMemberPerPeriod < 4)
            #expect(report.crashDetection != nil)
        }
    }

    @Test func simulatedTrafficDecodesAndFitsThePacketLimit() {
        let sim = SWIMSimulation(memberCount: 6, seed: 9, faults: NetworkFaults(lossRate: 0.05))
        sim.start(0, seeds: [])
        for node in 1..<6 { sim.start(node, seeds: [0]) }
        sim.run(until: .seconds(5))
        #expect(sim.trafficViolations.isEmpty)
        #expect(sim.datagramsSent > 100)
        for observer in 0..<6 {
            for subject in 0..<6 where subject != observer {
                #expect(sim.status(seenBy: observer, of: subject) == .alive)
            }
        }
    }
}
