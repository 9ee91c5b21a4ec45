import RateLimitCore
import Testing

/// Deciding around a check that takes time (the proxy's API-key check): ``RateLimiter/rejection``
/// says whether a request would be rejected without charging anything, and
/// ``RateLimiter/charge`` counts one that was let through, beyond the burst if need be, so that
/// requests let through together before any was charged all count.
@Suite struct RateLimiterChargeTests {
    static let client = RateLimitKey.ipv4(10, 0, 0, 1)
    static let zones = [LimitReqZone(name: "one", rate: LimitRate(requests: 1, per: .perSecond)),
                        LimitReqZone(name: "two", rate: LimitRate(requests: 1, per: .perSecond))]

    @Test func rejectionLooksWithoutChargingOrCreating() {
        var limiter = RateLimiter(zones: Self.zones)
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 1, delay: .nodelay, status: 429)])
        #expect(limiter.rejection(policy, keys: [Self.client], now: 0) == nil)
        #expect(limiter.stateCount(zone: 0) == 0, "a look creates no state")
        #expect(limiter.charge(policy, keys: [Self.client], now: 0).outcome == .passed)
        #expect(limiter.charge(policy, keys: [Self.client], now: 0).outcome == .passed)
        #expect(limiter.storedState(zone: 0, key: Self.client) == .init(excess: 1000, lastCharged: 0))
        let rejected = limiter.rejection(policy, keys: [Self.client], now: 0)
        #expect(rejected == RateLimitDecision(outcome: .rejected(status: 429), limit: 0, excess: 2000, perLimit: .init(.rejected, limit: 0)))
        #expect(limiter.storedState(zone: 0, key: Self.client) == .init(excess: 1000, lastCharged: 0), "a look charges nothing")
        // decide agrees.
        #expect(limiter.decide(policy.limits[0], key: Self.client, now: 0).outcome == .rejected(status: 429))
        #expect(limiter.rejection(policy, keys: [Self.client], now: 1000) == nil, "one place drained")
    }

    @Test func chargeCountsBeyondTheBurstAndKeepsTheKeyRefusedUntilItDrains() {
        var limiter = RateLimiter(zones: Self.zones)
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 1, delay: .nodelay, status: 429)])
        // Four requests let through together (each looked at before any was charged).
        for _ in 0..<4 { #expect(limiter.rejection(policy, keys: [Self.client], now: 0) == nil) }
        let outcomes = (0..<4).map { _ in limiter.charge(policy, keys: [Self.client], now: 0).outcome }
        #expect(outcomes == [.passed, .passed, .rejected(status: 429), .rejected(status: 429)])
        #expect(limiter.storedState(zone: 0, key: Self.client) == .init(excess: 3000, lastCharged: 0))
        // All four count: 3 s later the bucket holds 0 and the next request is within the burst.
        #expect(limiter.rejection(policy, keys: [Self.client], now: 2000) != nil)
        #expect(limiter.rejection(policy, keys: [Self.client], now: 3000) == nil)
    }

    @Test func chargeDelaysAsDecideWouldAndNamesTheFirstLimitOverItsBurst() {
        var limiter = RateLimiter(zones: Self.zones)
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 5, status: 429), LimitReq(zone: 1, burst: 0, status: 503)])
        let other = RateLimitKey("other")
        #expect(limiter.charge(policy, keys: [Self.client, other], now: 0).outcome == .passed)
        // The second zone is past its burst; the first delays (1 s), but over the limit decides.
        let second = limiter.charge(policy, keys: [Self.client, other], now: 0)
        #expect(second == RateLimitDecision(outcome: .rejected(status: 503), limit: 1, excess: 1000, perLimit: .init(delayed: 0b01, rejected: 0b10)))
        #expect(limiter.storedState(zone: 0, key: Self.client)?.excess == 1000, "every zone was charged")
        let delayed = limiter.charge(policy, keys: [Self.client, .empty], now: 0)
        #expect(delayed == RateLimitDecision(outcome: .delayed(milliseconds: 2000), limit: 0, excess: 2000, perLimit: .init(.delayed, limit: 0)))
        #expect(limiter.charge(policy, keys: [.empty, .empty], now: 0).outcome == .unlimited)
    }

    @Test func aSharedZoneCountsChargedRequestsForTheOthers() {
        var replica = SharedRateLimiter(zones: Self.zones, sharedZones: [0], exchangeInterval: 100)
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 0, delay: .nodelay)])
        _ = replica.tick(now: 0)
        #expect(replica.rejection(policy, keys: [Self.client], now: 10) == nil)
        for _ in 0..<2 { _ = replica.charge(policy, keys: [Self.client], now: 10) }
        #expect(replica.rejection(policy, keys: [Self.client], now: 10) != nil)
        #expect(replica.tick(now: 100) == [.send(RateLimitCounts(entries: [.init(zone: 0, key: Self.client, requests: 2)])), .tick(at: 200)])
    }

    @Test func aSharedZoneThatCouldNotChargeARequestDoesNotShareIt() {
        let zones = [LimitReqZone(name: "small", rate: LimitRate(requests: 1, per: .perMinute), size: 32 * 1024), Self.zones[1]]
        var replica = SharedRateLimiter(zones: zones, sharedZones: [0, 1], exchangeInterval: 100)
        _ = replica.tick(now: 0)
        // 191 recent clients fill the small zone; a 3000-byte key cannot fit even after evicting.
        for number in 0..<191 { _ = replica.decide(LimitReqPolicy(limits: [LimitReq(zone: 0)]), keys: [.ipv4(10, 0, 0, UInt8(number))], now: 1) }
        _ = replica.tick(now: 100)
        let huge = RateLimitKey(Array(repeating: 0x41, count: 3000))
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0), LimitReq(zone: 1)])
        let decision = replica.charge(policy, keys: [huge, Self.client], now: 110)
        #expect(decision.perLimit == .init(passed: 0b10), "only the second zone charged it")
        #expect(replica.tick(now: 200) == [.send(RateLimitCounts(entries: [.init(zone: 1, key: Self.client, requests: 1)])), .tick(at: 300)])
    }
}

/// nginx's lookup makes a key's state the most recently used before it decides, so a client that
/// keeps being rejected stays at the head of the zone's queue and a full zone forgets others
/// first (RateLimiterMemoryTests.anyLookupCountsAsUseEvenARejectedOne). A look that rejects must do
/// the same: an address guessing keys over its limit would otherwise age to the tail while it is
/// refused, be evicted by other clients, and get a whole new burst of guesses.
@Suite struct RateLimiterRejectionRecencyTests {
    @Test func aRejectionMakesTheStateRecentlyUsedAsNginxsLookupDoes() {
        var limiter = RateLimiter(zones: [LimitReqZone(name: "one", rate: LimitRate(requests: 1, per: .perMinute), size: 32 * 1024)])
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 1, delay: .nodelay, status: 429)])
        let guesser = RateLimitKey([1, 10, 0, 0, 1])
        // The guesser spends its burst; 190 other clients then fill the 32k zone (191 states).
        for _ in 0..<2 { _ = limiter.charge(policy, keys: [guesser], now: 0) }
        for number in 0..<190 { _ = limiter.decide(policy, keys: [.ipv4(10, 1, 0, UInt8(number))], now: 1) }
        #expect(limiter.stateCount(zone: 0) == 191)
        // It guesses again and is rejected: now it is the most recently used, as after decide.
        #expect(limiter.rejection(policy, keys: [guesser], now: 2) != nil)
        #expect(limiter.keysByRecency(zone: 0).last == guesser)
        // So a new client evicts the least recently used other client, and the guesser stays refused.
        _ = limiter.decide(policy, keys: [.ipv4(10, 2, 0, 0)], now: 3)
        #expect(limiter.storedState(zone: 0, key: .ipv4(10, 1, 0, 0)) == nil)
        #expect(limiter.rejection(policy, keys: [guesser], now: 4) != nil, "the guesser was forgotten while refused: a new burst")
    }
}
