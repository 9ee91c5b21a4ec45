import DiscoCore
import DiscoTestKit
import Foundation
import LeaseCore
import Testing

/// The lease cores in the deterministic simulator: safety under faults, fail-over after a kill,
/// exact replay, and unsafe settings caught. `disco-sim lease --seeds 10000` sweeps further;
/// `DISCO_LEASE_SEEDS=first..<end` changes the chaos seeds run here.
@Suite struct LeaseSimulationTests {
    static let seeds: Range<UInt64> = {
        let text = ProcessInfo.processInfo.environment["DISCO_LEASE_SEEDS"] ?? ""
        let bounds = text.components(separatedBy: "..<").compactMap { UInt64($0) }
        guard bounds.count == 2, bounds[0] < bounds[1] else { return 0..<80 }
        return bounds[0]..<bounds[1]
    }()

    static func run(_ seeds: Range<UInt64>, _ configure: @escaping @Sendable (inout LeaseSimulationOptions) -> Void) async -> [LeaseSimulationResult] {
        await CPUBoundWork.run {
            seeds.map { seed in
                var options = LeaseSimulationOptions(seed: seed)
                options.traceLimit = 30
                configure(&options)
                return LeaseSimulation.run(options)
            }
        }
    }

    static func report(_ results: [LeaseSimulationResult]) -> String {
        results.filter { !$0.violations.isEmpty }.prefix(2).map { result in
            "seed \(result.seed): \(result.violations.joined(separator: "; "))\n    " + result.trace.suffix(15).joined(separator: "\n    ")
        }.joined(separator: "\n")
    }

    @Test func chaosNeverBreaksTheLeaseAndSomeoneIsHotAfterwards() async {
        let results = await Self.run(Self.seeds) { _ in }
        let failing = results.filter { !$0.violations.isEmpty }
        #expect(failing.isEmpty, "\(failing.count) failing seeds\n\(Self.report(results))")
        // The runs did exercise the lease: many grants, and stale writes fenced off.
        #expect(results.reduce(0) { $0 + $1.grants } > UInt64(results.count) * 3)
        #expect(results.reduce(0) { $0 + $1.rejectedWrites } > 0, "some zombie writes reached the backend and were rejected")
    }

    @Test(arguments: [LeaseScenario.killHot, .killHotLeader])
    func killingTheHotFailsOverWithinTheTTLBound(scenario: LeaseScenario) async {
        let results = await Self.run(0..<20) { $0.scenario = scenario }
        #expect(results.allSatisfy { $0.violations.isEmpty }, "\(Self.report(results))")
        let settings = LeaseSettings()
        // Nobody may take over before the ttl (on the fastest clock) minus one renewal period
        // (on the slowest) after the kill: the dead holder may have renewed just before it.
        let earliest = settings.ttl * (1 / (1 + settings.maxDrift)) - settings.renewPeriod * (1 / (1 - settings.maxDrift))
        for result in results {
            guard let failover = result.failover else { continue }
            #expect(failover >= earliest, "seed \(result.seed): fail-over after \(failover), before \(earliest)")
        }
        #expect(results.allSatisfy { $0.failover != nil })
    }

    @Test func killingTheLeaderNeverCostsTheHotItsLease() async {
        let results = await Self.run(0..<40) { $0.scenario = .killLeader }
        #expect(results.allSatisfy { $0.violations.isEmpty }, "\(Self.report(results))")
        let steppedDown = results.filter { $0.hotSteppedDown }.map(\.seed)
        #expect(steppedDown.isEmpty, "the hot suspends through the election and resumes with its token; cold in seeds \(steppedDown)")
        #expect(results.contains { $0.suspensions > 0 }, "some elections outlast the 400 ms renew deadline")
    }

    @Test func transferringLeadershipAwayFromTheHotKeepsItHotWithItsToken() async {
        let results = await Self.run(0..<40) { $0.scenario = .transferFromHot }
        #expect(results.allSatisfy { $0.violations.isEmpty }, "\(Self.report(results))")
    }

    @Test func aGracefulHandOverWaitsForItsWritesInFlightBeforeAnyoneIsGranted() async {
        let results = await Self.run(0..<40) { $0.scenario = .handOver }
        #expect(results.allSatisfy { $0.violations.isEmpty }, "\(Self.report(results))")
        #expect(results.allSatisfy { $0.failover != nil }, "every hand-over ends with a successor writing")
        let drains = results.reduce(0) { $0 + $1.drains }
        let timeouts = results.reduce(0) { $0 + $1.drainTimeouts }
        #expect(drains >= 30, "the slow last write keeps most hand-overs waiting: \(drains) of 40")
        #expect(timeouts > 0 && timeouts < drains, "some waits end at the drain timeout, others with the answers: \(timeouts) of \(drains)")
    }

    @Test func aHandOverThatIgnoresItsWritesInFlightIsCaught() async {
        let results = await Self.run(0..<20) { options in
            options.scenario = .handOver
            options.ignoreWritesInFlight = true
        }
        let caught = results.filter { $0.violations.contains { $0.contains("in flight") && $0.contains("into its hand-over") } }
        #expect(caught.count >= 5, "only \(caught.count) of 20 seeds caught a release that did not wait for the writes in flight")
    }

    @Test func replicasWithDifferentSettingsAreNeverHotAtOnce() async throws {
        // A rolling change of -lease-ttl: r1, r3 run long settings, r2, r4 short ones. Each set is
        // valid; a short-ttl grantor must still wait out the long-ttl holder's renew deadline.
        let long = try LeaseSettings(ttl: .milliseconds(1500), renewDeadline: .milliseconds(1200), renewPeriod: .milliseconds(300))
        let short = try LeaseSettings(ttl: .milliseconds(300), renewDeadline: .milliseconds(200), renewPeriod: .milliseconds(50))
        let results = await Self.run(0..<40) { options in
            options.settings = long
            options.otherSettings = short
        }
        #expect(results.allSatisfy { $0.violations.isEmpty }, "\(Self.report(results))")
        #expect(results.reduce(0) { $0 + $1.grants } > 40, "the lease did move between replicas")
    }

    @Test func aReplacedProcessThatRunsOnIsNeverHotAlongsideAnother() async {
        // The hot's process is cut off and a new process with its node ID starts 20–300 ms later
        // while the old one runs on: the new one must wait out the old one's hot window before it
        // releases the old claim, which fail-over pays for (it is no faster than a kill -9).
        let results = await Self.run(0..<40) { $0.scenario = .zombie }
        #expect(results.allSatisfy { $0.violations.isEmpty }, "\(Self.report(results))")
        #expect(results.allSatisfy { $0.failover != nil }, "a replica other than the cut-off one became hot and wrote")
        // Checked by belief alone (invariant 1: at most one hot at any real instant, clocks drifting).
        let beliefs = await Self.run(0..<40) { options in
            options.scenario = .zombie
            options.checkHolderAgreesWithLog = false
        }
        #expect(beliefs.allSatisfy { $0.violations.isEmpty }, "\(Self.report(beliefs))")
    }

    @Test func aSeedReplaysIdentically() async {
        let first = await Self.run(42..<43) { _ in }
        let second = await Self.run(42..<43) { _ in }
        let other = await Self.run(43..<44) { _ in }
        #expect(first[0].traceHash == second[0].traceHash && first[0].events == second[0].events)
        #expect(first[0].trace == second[0].trace && !first[0].trace.isEmpty)
        #expect(other[0].traceHash != first[0].traceHash, "different seeds explore different schedules")
    }

    // MARK: Unsafe settings are caught

    @Test func aRenewDeadlineBeyondTheTTLIsCaught() async {
        let results = await Self.run(0..<20) { options in
            options.settings = .unchecked(ttl: .milliseconds(800), renewDeadline: .seconds(1), renewPeriod: .milliseconds(150), maxDrift: 0.01)
            options.chaosDuration = .seconds(4)
        }
        let caught = results.filter { $0.violations.contains { $0.contains("believes it is hot with token") } }
        #expect(caught.count >= 5, "only \(caught.count) of 20 seeds caught the unsafe deadline")
    }

    @Test func twoHotReplicasAtOnceAreCaughtWhenOnlyTheirBeliefsAreChecked() async {
        let results = await Self.run(0..<30) { options in
            options.settings = .unchecked(ttl: .milliseconds(800), renewDeadline: .seconds(1), renewPeriod: .milliseconds(150), maxDrift: 0.01)
            options.checkHolderAgreesWithLog = false
            options.chaosDuration = .seconds(4)
        }
        let caught = results.filter { $0.violations.contains { $0.contains("replicas believe they are hot at once") } }
        #expect(!caught.isEmpty, "no seed of 30 found two hot replicas at once")
    }

    @Test func settingsThatIgnoreClockDriftAreCaughtOnlyWhenClocksDrift() async {
        // Valid for a drift of 0 (790 ms < 800 ms), unsafe when clock rates differ by 10 %.
        let settings = LeaseSettings.unchecked(ttl: .milliseconds(800), renewDeadline: .milliseconds(790),
                                               renewPeriod: .milliseconds(150), maxDrift: 0)
        let drifting = await Self.run(0..<60) { options in
            options.settings = settings
            options.clockDrift = 0.1
            options.chaosDuration = .seconds(5)
        }
        #expect(drifting.contains { !$0.violations.isEmpty }, "10 % drift against settings that assume none went unnoticed")
        let exact = await Self.run(0..<30) { options in
            options.settings = settings
            options.clockDrift = 0
            options.chaosDuration = .seconds(5)
        }
        #expect(exact.allSatisfy { $0.violations.isEmpty }, "with perfect clocks the same settings are safe\n\(Self.report(exact))")
    }
}
