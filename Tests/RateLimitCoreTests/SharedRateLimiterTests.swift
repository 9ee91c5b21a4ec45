import DiscoTestKit
import RateLimitCore
import Testing

/// A zone shared by replicas through exchanged counts: the exchange as effects and inputs, and
/// the documented bound on what the cluster admits, checked on seeded traces.
@Suite struct SharedRateLimiterTests {
    static let zones = [
        LimitReqZone(name: "shared", rate: LimitRate(requests: 1, per: .perSecond)),
        LimitReqZone(name: "local", rate: LimitRate(requests: 1, per: .perSecond)),
    ]
    static let client = RateLimitKey("client")

    func replica(maximumPendingKeys: Int = 65536) -> SharedRateLimiter {
        SharedRateLimiter(zones: Self.zones, sharedZones: [0], exchangeInterval: 100, maximumPendingKeys: maximumPendingKeys)
    }

    @Test func ticksEveryIntervalAndSendsOnlyWhatWasCharged() {
        var replica = replica()
        #expect(replica.tick(now: 1000) == [.tick(at: 1100)])
        #expect(replica.tick(now: 1050) == [.tick(at: 1100)])
        #expect(replica.tick(now: 1100) == [.tick(at: 1200)])  // nothing charged: nothing sent
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 1), LimitReq(zone: 1, burst: 5)])
        for _ in 0..<3 { _ = replica.decide(policy, keys: [Self.client, Self.client], now: 1150) }  // the third is rejected
        _ = replica.decide(policy, keys: [.empty, Self.client], now: 1150)  // no key for the shared zone
        #expect(replica.tick(now: 1210) == [
            .send(RateLimitCounts(entries: [.init(zone: 0, key: Self.client, requests: 2)])), .tick(at: 1310),
        ])
        #expect(replica.tick(now: 1310) == [.tick(at: 1410)])
    }

    @Test func countsFromAnotherReplicaAreChargedHere() {
        var first = replica()
        var second = replica()
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 2, delay: .nodelay)])
        _ = first.tick(now: 0)
        for _ in 0..<3 { #expect(first.decide(policy, keys: [Self.client], now: 10).outcome == .passed) }
        guard case .send(let counts)? = first.tick(now: 100).first else {
            Issue.record("no counts sent")
            return
        }
        second.receive(counts, now: 120)
        // The second replica's bucket now holds the first's three requests: the next is rejected.
        #expect(second.decide(policy, keys: [Self.client], now: 130).outcome == .rejected(status: 503))
        #expect(second.limiter.storedState(zone: 0, key: Self.client) == .init(excess: 2000, lastCharged: 120))
        // A second later one has drained.
        #expect(second.decide(policy, keys: [Self.client], now: 1200).outcome == .passed)
    }

    @Test func countsForLocalZonesAreIgnored() {
        var replica = replica()
        replica.receive(RateLimitCounts(entries: [.init(zone: 1, key: Self.client, requests: 50)]), now: 0)
        #expect(replica.limiter.storedState(zone: 1, key: Self.client) == nil)
    }

    @Test func keysBeyondTheLimitAreDroppedAndCounted() {
        var replica = replica(maximumPendingKeys: 2)
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 5)])
        for name in ["a", "b", "c", "c", "a"] { _ = replica.decide(policy, keys: [RateLimitKey(name)], now: 0) }
        #expect(replica.droppedRequests == 2)
        _ = replica.tick(now: 0)
        guard case .send(let counts)? = replica.tick(now: 100).first else {
            Issue.record("no counts sent")
            return
        }
        #expect(counts.entries == [.init(zone: 0, key: RateLimitKey("a"), requests: 2), .init(zone: 0, key: RateLimitKey("b"), requests: 1)])
    }

    /// Long keys (a `key=header:` zone counting tokens) are bounded by their bytes too: 65,536
    /// keys of 16 KiB would otherwise hold 1 GiB until the next exchange.
    @Test func keysBeyondTheByteBudgetAreDroppedAndCounted() {
        var replica = SharedRateLimiter(zones: Self.zones, sharedZones: [0], exchangeInterval: 100, maximumPendingKeyBytes: 25_000)
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 5)])
        let keys = (0..<4).map { RateLimitKey(String(repeating: Character(UnicodeScalar(UInt8(65 + $0))), count: 10_000)) }
        for key in keys + [keys[0]] { _ = replica.decide(policy, keys: [key], now: 0) }
        #expect(replica.droppedRequests == 2, "the third and fourth keys do not fit in 25,000 bytes")
        _ = replica.tick(now: 0)
        guard case .send(let counts)? = replica.tick(now: 100).first else {
            Issue.record("no counts sent")
            return
        }
        #expect(counts.entries == [.init(zone: 0, key: keys[0], requests: 2), .init(zone: 0, key: keys[1], requests: 1)])
        // The budget is per interval: after the exchange, a new key fits again.
        _ = replica.decide(policy, keys: [keys[2]], now: 150)
        #expect(replica.droppedRequests == 2)
    }

    @Test func absorbingChargesAsManyRequestsAsCounted() {
        var limiter = RateLimiter(zones: Self.zones)
        limiter.absorb(zone: 0, key: Self.client, requests: 4, now: 50)
        #expect(limiter.storedState(zone: 0, key: Self.client) == .init(excess: 3000, lastCharged: 50))
        limiter.absorb(zone: 0, key: Self.client, requests: 1, now: 1050)
        #expect(limiter.storedState(zone: 0, key: Self.client) == .init(excess: 3000, lastCharged: 1050))
        limiter.absorb(zone: 0, key: .empty, requests: 1, now: 0)
        #expect(limiter.stateCount(zone: 0) == 1)
    }

    @Test func theClusterNeverAdmitsMoreThanTheBound() async {
        let (failures, used, unshared) = await CPUBoundWork.run {
            var failures: [String] = []
            var used = 0.0
            var unshared = 0.0
            for seed in 0..<20 as Range<UInt64> {
                var simulation = SharedZoneSimulation(seed: seed)
                let report = simulation.run(duration: 8000)
                if !report.violations.isEmpty { failures.append("seed \(seed) (\(report.description)): \(report.violations[0])") }
                used = max(used, report.excessUsed)
                var alone = SharedZoneSimulation(seed: seed, exchange: false)
                unshared = max(unshared, alone.run(duration: 8000).excessUsed)
            }
            return (failures, used, unshared)
        }
        #expect(failures.isEmpty, "\(failures.prefix(3).joined(separator: "\n"))")
        // The traces press on the bound, and without the exchange they break it many times over.
        #expect(used > 0.3)
        #expect(unshared > 2)
    }
}
