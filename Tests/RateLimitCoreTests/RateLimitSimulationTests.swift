import DiscoCore
import Foundation
import RateLimitCore
import Testing
@testable import DiscoTestKit

/// Property tests: seeded random traces through the limiter, checked against a plain second
/// implementation after every request, within the zones' memory, and within the leaky bucket's
/// bounds. `disco-sim ratelimit --seeds 10000` sweeps more; a failing seed replays with `--seed S`.
@Suite struct RateLimitSimulationTests {
    /// 150 seeds; `DISCO_RATELIMIT_SEEDS=first..<end` sweeps others.
    static let seeds: Range<UInt64> = {
        let text = ProcessInfo.processInfo.environment["DISCO_RATELIMIT_SEEDS"] ?? ""
        let bounds = text.components(separatedBy: "..<").compactMap { UInt64($0) }
        guard bounds.count == 2, bounds[0] < bounds[1] else { return 0..<150 }
        return bounds[0]..<bounds[1]
    }()

    @Test func seededTracesKeepEveryInvariant() async {
        let failures = await CPUBoundWork.run {
            var failures: [String] = []
            var evictions = 0
            var outcomes: [String: Int] = [:]
            for seed in Self.seeds {
                var simulation = RateLimitSimulation(seed: seed)
                let report = simulation.run()
                evictions += report.evictions
                outcomes.merge(report.outcomes, uniquingKeysWith: +)
                if !report.violations.isEmpty {
                    failures.append("seed \(seed): \(report.violations.joined(separator: "; "))\n    " + report.trace.joined(separator: "\n    "))
                }
            }
            // The sweep must reach every kind of decision and evict, or it proves little.
            for status in ["PASSED", "DELAYED", "REJECTED", "DELAYED_DRY_RUN", "REJECTED_DRY_RUN", "UNLIMITED"] where outcomes[status, default: 0] == 0 {
                failures.append("no \(status) decision in \(Self.seeds.count) seeds")
            }
            if evictions == 0 { failures.append("no state was ever freed or evicted") }
            return failures
        }
        let summary = failures.prefix(2).joined(separator: "\n")
        #expect(failures.count == 0, "\(failures.count) failures, the first:\n\(summary)")
    }

    @Test func aSeedReplaysIdentically() async {
        await CPUBoundWork.runTest {
            var first = RateLimitSimulation(seed: 77)
            var second = RateLimitSimulation(seed: 77)
            let (a, b) = (first.run(), second.run())
            #expect(a.trace == b.trace)
            #expect(a.outcomes == b.outcomes)
            #expect(a.requests == 400)
        }
    }

    @Test func theBoundCheckCatchesAnOverAdmittingBucket() {
        var simulation = RateLimitSimulation(seed: 5)
        let limit = simulation.policy.limits[0]
        let key = RateLimitKey("k")
        // 2 + burst requests charged in the same millisecond to one bucket: one more than allowed.
        simulation.charges[limit.zone] = [key: (0..<(limit.burst + 2)).map { _ in .init(time: 10, fresh: false, forwarded: nil) }]
        simulation.checkBounds()
        #expect(simulation.report.violations.count == 1)
        #expect(simulation.report.violations.first?.contains("requests charged in 0 ms") == true)
    }
}
