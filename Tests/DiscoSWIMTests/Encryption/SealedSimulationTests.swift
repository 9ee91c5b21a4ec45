import DiscoCore
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - The simulator with sealed traffic

/// The SWIM simulator with every datagram and push-pull state sealed on the simulated wire, as
/// an encrypting shell seals them (the core never sees it).
@Suite struct SealedSimulationTests {
    /// The same properties with every message sealed on the simulated wire (AES-256-GCM, as an
    /// encrypting shell seals them): the cores build packets smaller by the envelope, and every
    /// sealed datagram fits the limit and opens on arrival.
    /// (100 seeds here; `disco-sim swim --encrypted --seeds 10000` sweeps more.)
    @Test func propertiesHoldWithSealedTraffic() async {
        for seed in UInt64(5001)...UInt64(5100) {
            let report = await CPUBoundWork.run { SWIMScenario.run(seed: seed, sealer: Self.sealer) }
            if !report.violations.isEmpty {
                Issue.record("""
                    seed \(seed) sealed (\(report.members) members, \(report.kind.rawValue), loss \(report.lossRate)): \
                    \(report.violations.joined(separator: "; "))
                    replay: swift run disco-sim swim --seed \(seed) --encrypted
                    """)
            }
        }
    }

    static let sealer = SWIM.GossipSealer(keyring: GossipKeyring(primary: GossipKey(bytes: [UInt8](repeating: 7, count: 32))!),
                                          label: "simulation")

    @Test func sealedTrafficOpensAndFitsThePacketLimit() async {
        await CPUBoundWork.runTest {
            var settings = SWIM.Settings.testing
            settings.maxPacketSize = 600  // small, so gossip fills packets up to the limit
            let sim = SWIMSimulation(memberCount: 12, seed: 9, settings: settings, faults: NetworkFaults(lossRate: 0.05), sealer: Self.sealer)
            sim.start(0, seeds: [])
            for node in 1..<12 { sim.start(node, seeds: [0]) }
            sim.run(until: .seconds(5))
            #expect(sim.trafficViolations.isEmpty, "\(sim.trafficViolations.prefix(3))")
            #expect(sim.datagramsSent > 100)
            // Every datagram carries the envelope.
            #expect(sim.bytesSent >= sim.datagramsSent * (SWIM.GossipSealer.overhead + 4))
            for observer in 0..<12 {
                for subject in 0..<12 where subject != observer {
                    #expect(sim.status(seenBy: observer, of: subject) == .alive)
                }
            }
            // Same seed, same run, sealed or not: sealing changes bytes, never decisions.
            let first = SWIMScenario.run(seed: 17, sealer: Self.sealer), second = SWIMScenario.run(seed: 17, sealer: Self.sealer)
            #expect(first.trace == second.trace)
        }
    }
}
