import RateLimitCore
import Testing

/// A decision named one limit at most (the one that delayed or rejected), so the proxy counted
/// each request under one zone. It now says what every limit did for its own part, agreeing
/// with what was charged: the rejecting limit rejected; each charged limit passed or delayed by
/// its own delay; a limit that only looked (a later one rejected: nothing is charged) or never
/// looked (empty key, or after the rejecting one) did nothing.
@Suite struct RateLimiterPerLimitTests {
    static let client = RateLimitKey.ipv4(192, 0, 2, 7)
    typealias PerLimit = RateLimitDecision.PerLimit

    /// Zone 0: 10r/s (loose); zone 1: 1r/s (strict); zone 2: 1r/s.
    var limiter = RateLimiter(zones: [
        LimitReqZone(name: "loose", rate: LimitRate(requests: 10, per: .perSecond)),
        LimitReqZone(name: "strict", rate: LimitRate(requests: 1, per: .perSecond)),
        LimitReqZone(name: "third", rate: LimitRate(requests: 1, per: .perSecond)),
    ])

    @Test mutating func everyChargedLimitSaysWhetherItDelayed() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 1, burst: 5), LimitReq(zone: 0, burst: 5), LimitReq(zone: 2, burst: 5, delay: .nodelay)])
        let keys = [Self.client, Self.client, Self.client]
        let first = limiter.decide(policy, keys: keys, now: 0)
        #expect(first.perLimit == PerLimit(passed: 0b111))
        // Strict waits 1000 ms, loose 100 ms (shorter, but its own delay), the nodelay zone none.
        let second = limiter.decide(policy, keys: keys, now: 0)
        #expect(second.outcome == .delayed(milliseconds: 1000))
        #expect(second.perLimit == PerLimit(passed: 0b100, delayed: 0b011))
        #expect([second.perLimit[0], second.perLimit[1], second.perLimit[2]] == [.delayed, .delayed, .passed])
    }

    @Test mutating func onlyTheRejectingLimitCountsARejection() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 10), LimitReq(zone: 1), LimitReq(zone: 2)])
        let keys = [Self.client, Self.client, Self.client]
        #expect(limiter.decide(policy, keys: keys, now: 0).perLimit == PerLimit(passed: 0b111))
        // The loose zone would pass it but is charged nothing; the third is not asked.
        let rejected = limiter.decide(policy, keys: keys, now: 0)
        #expect(rejected.perLimit == PerLimit(.rejected, limit: 1))
        #expect(rejected.perLimit[0] == nil && rejected.perLimit[2] == nil)
        #expect(limiter.storedState(zone: 0, key: Self.client)?.excess == 0)
    }

    @Test mutating func aLimitWithAnEmptyKeyDoesNothing() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0), LimitReq(zone: 1)])
        #expect(limiter.decide(policy, keys: [.empty, Self.client], now: 0).perLimit == PerLimit(passed: 0b10))
        #expect(limiter.decide(policy, keys: [.empty, .empty], now: 0).perLimit == PerLimit())
    }

    @Test mutating func aRejectionLookedUpBeforeACheckNamesItsLimit() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0), LimitReq(zone: 1)])
        _ = limiter.charge(policy, keys: [Self.client, Self.client], now: 0)
        #expect(limiter.rejection(policy, keys: [Self.client, Self.client], now: 500)?.perLimit == PerLimit(.rejected, limit: 1))
    }

    @Test mutating func aChargeCountsEveryLimitItCharged() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 5), LimitReq(zone: 1), LimitReq(zone: 2, burst: 5)])
        let keys = [Self.client, Self.client, Self.client]
        #expect(limiter.charge(policy, keys: keys, now: 0).perLimit == PerLimit(passed: 0b111))
        // Strict goes past its burst (rejected, charged all the same); the others delay.
        let second = limiter.charge(policy, keys: [Self.client, Self.client, .empty], now: 0)
        #expect(second.outcome == .rejected(status: 503))
        #expect(second.perLimit == PerLimit(delayed: 0b001, rejected: 0b010))
    }

    @Test mutating func limitsBeyondTheCapacityAreNotReported() {
        let zones = (0...PerLimit.capacity).map { LimitReqZone(name: "z\($0)", rate: LimitRate(requests: 1, per: .perSecond)) }
        var many = RateLimiter(zones: zones)
        let policy = LimitReqPolicy(limits: zones.indices.map { LimitReq(zone: $0) })
        let decision = many.decide(policy, keys: Array(repeating: Self.client, count: zones.count), now: 0)
        #expect(decision.outcome == .passed)
        #expect(decision.perLimit == PerLimit(passed: .max))
        #expect(decision.perLimit[PerLimit.capacity] == nil)
    }
}
