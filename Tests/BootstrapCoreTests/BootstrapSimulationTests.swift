import DiscoCore
import Foundation
import Testing
@testable import BootstrapCore
import DiscoTestKit

/// Property tests: any schedule of N ≥ expect nodes started together, with loss and delay,
/// yields exactly one cluster. A failure prints its seed; the seed replays it exactly.
@Suite struct BootstrapSimulationTests {
    struct Scenario: CustomStringConvertible, Sendable {
        let nodes: Int
        let expect: Int
        let nonVoters: Int
        let loss: Double
        /// Nodes that discover only themselves (``BootstrapSimulation/Options/blindNodes``).
        var blind = 0
        var description: String { "\(nodes) nodes, expect \(expect), \(nonVoters) non-voters, loss \(loss), \(blind) blind" }
    }

    static let scenarios = [
        Scenario(nodes: 3, expect: 3, nonVoters: 0, loss: 0),
        Scenario(nodes: 3, expect: 3, nonVoters: 0, loss: 0.2),
        Scenario(nodes: 5, expect: 3, nonVoters: 0, loss: 0.1),
        Scenario(nodes: 7, expect: 3, nonVoters: 0, loss: 0.2),
        Scenario(nodes: 6, expect: 5, nonVoters: 1, loss: 0.1),
        Scenario(nodes: 4, expect: 1, nonVoters: 0, loss: 0.1),
        // Left out of the initial voters, a node that discovers nobody joins through the nodes
        // that notified it: finished nodes never notify it again.
        Scenario(nodes: 4, expect: 3, nonVoters: 0, loss: 0.1, blind: 1),
        Scenario(nodes: 5, expect: 3, nonVoters: 0, loss: 0, blind: 2),
    ]

    /// 200 seeds per scenario; `DISCO_BOOTSTRAP_SEEDS=first..<end` sweeps others (e.g. in release builds).
    static let seeds: Range<UInt64> = {
        let text = ProcessInfo.processInfo.environment["DISCO_BOOTSTRAP_SEEDS"] ?? ""
        let bounds = text.components(separatedBy: "..<").compactMap { UInt64($0) }
        guard bounds.count == 2, bounds[0] < bounds[1] else { return 0..<200 }
        return bounds[0]..<bounds[1]
    }()

    @Test(arguments: scenarios)
    func exactlyOneClusterForms(scenario: Scenario) async {
        var failures: [String] = []
        for seed in Self.seeds {
            var options = BootstrapSimulation.Options()
            options.nodes = scenario.nodes
            options.expect = scenario.expect
            options.nonVoters = scenario.nonVoters
            options.lossRate = scenario.loss
            options.blindNodes = scenario.blind
            let (violations, trace) = await CPUBoundWork.run { [options] in
                var simulation = BootstrapSimulation(seed: seed, options: options)
                let violations = simulation.run()
                return (violations, Array(simulation.trace.suffix(15)))
            }
            if !violations.isEmpty {
                failures.append("seed \(seed): \(violations.joined(separator: "; "))\n  last events:\n    "
                    + trace.joined(separator: "\n    "))
            }
        }
        #expect(failures.isEmpty, "\(scenario): \(failures.count) failing seeds\n\(failures.prefix(3).joined(separator: "\n"))")
    }

    @Test func aSeedReplaysIdentically() async {
        await CPUBoundWork.runTest {
            var options = BootstrapSimulation.Options()
            options.nodes = 5
            options.lossRate = 0.2
            var first = BootstrapSimulation(seed: 42, options: options)
            var second = BootstrapSimulation(seed: 42, options: options)
            _ = first.run()
            _ = second.run()
            #expect(first.traceDigest == second.traceDigest)
            #expect(!first.trace.isEmpty)
            var other = BootstrapSimulation(seed: 43, options: options)
            _ = other.run()
            #expect(other.traceDigest != first.traceDigest, "different seeds explore different schedules")
        }
    }
}
