import RateLimitCore
import Testing

/// Several limits on one request (several `limit_req` in one nginx location), and dry run.
@Suite struct RateLimiterPolicyTests {
    static let client = RateLimitKey.ipv4(192, 0, 2, 7)

    /// Zone 0: 10r/s (loose); zone 1: 1r/s (strict).
    var limiter = RateLimiter(zones: [
        LimitReqZone(name: "loose", rate: LimitRate(requests: 10, per: .perSecond)),
        LimitReqZone(name: "strict", rate: LimitRate(requests: 1, per: .perSecond)),
    ])

    @Test mutating func aLaterLimitsRejectionChargesNoEarlierLimit() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 10), LimitReq(zone: 1, status: 429)])
        let keys = [Self.client, Self.client]
        #expect(limiter.decide(policy, keys: keys, now: 0).outcome == .passed)
        let rejected = limiter.decide(policy, keys: keys, now: 0)
        #expect(rejected.outcome == .rejected(status: 429))
        #expect(rejected.limit == 1)
        #expect(rejected.excess == 1000)
        // The loose zone still holds only the first request: one more is 1 excess, 100 ms at 10r/s.
        #expect(limiter.storedState(zone: 0, key: Self.client) == .init(excess: 0, lastCharged: 0))
        #expect(limiter.decide(LimitReq(zone: 0, burst: 10), key: Self.client, now: 0).outcome == .delayed(milliseconds: 100))
    }

    @Test mutating func anEarlierLimitsRejectionLeavesLaterLimitsUntouched() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 1), LimitReq(zone: 0)])
        _ = limiter.decide(policy, keys: [Self.client, Self.client], now: 0)
        let other = RateLimitKey.ipv4(192, 0, 2, 8)
        let rejected = limiter.decide(policy, keys: [Self.client, other], now: 10)
        #expect(rejected.outcome == .rejected(status: 503))
        #expect(rejected.limit == 0)
        #expect(limiter.storedState(zone: 0, key: other) == nil)
    }

    @Test mutating func aStateCreatedForARejectedRequestStaysUnchargedAndActsNew() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0), LimitReq(zone: 1)])
        let (first, second, shared) = (RateLimitKey("k1"), RateLimitKey("k2"), RateLimitKey("b"))
        #expect(limiter.decide(policy, keys: [first, shared], now: 0).outcome == .passed)
        // k2 is new in the loose zone; the strict zone rejects: k2 stays, never charged.
        #expect(limiter.decide(policy, keys: [second, shared], now: 10).outcome == .rejected(status: 503))
        #expect(limiter.storedState(zone: 0, key: second) == .init(excess: 0, lastCharged: nil))
        // Next time k2 counts as drained and is charged now.
        #expect(limiter.decide(policy, keys: [second, RateLimitKey("b2")], now: 20).outcome == .passed)
        #expect(limiter.storedState(zone: 0, key: second) == .init(excess: 0, lastCharged: 20))
        #expect(limiter.decide(policy, keys: [second, RateLimitKey("b3")], now: 30).outcome == .rejected(status: 503))
    }

    @Test mutating func theLongestDelayWinsAndEveryLimitIsCharged() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 1, burst: 5), LimitReq(zone: 0, burst: 5)])
        let keys = [Self.client, Self.client]
        _ = limiter.decide(policy, keys: keys, now: 0)
        let second = limiter.decide(policy, keys: keys, now: 0)
        // Strict: excess 1 at 1r/s waits 1000 ms; loose: excess 1 at 10r/s waits 100 ms.
        #expect(second.outcome == .delayed(milliseconds: 1000))
        #expect(second.limit == 0)
        #expect(second.excess == 1000)
        #expect(limiter.storedState(zone: 0, key: Self.client)?.excess == 1000)
        #expect(limiter.storedState(zone: 1, key: Self.client)?.excess == 1000)
    }

    @Test mutating func onATieTheLaterLimitIsNamed() {
        let both = RateLimiter(zones: [
            LimitReqZone(name: "a", rate: LimitRate(requests: 2, per: .perSecond)),
            LimitReqZone(name: "b", rate: LimitRate(requests: 2, per: .perSecond)),
        ])
        limiter = both
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 3), LimitReq(zone: 1, burst: 3)])
        _ = limiter.decide(policy, keys: [Self.client, Self.client], now: 0)
        let decision = limiter.decide(policy, keys: [Self.client, Self.client], now: 0)
        #expect(decision.outcome == .delayed(milliseconds: 500))
        #expect(decision.limit == 1)
    }

    @Test mutating func nodelayAndDelayNApplyPerLimit() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 1, burst: 5, delay: .nodelay), LimitReq(zone: 0, burst: 5, delay: .after(1))])
        let keys = [Self.client, Self.client]
        let outcomes = (0..<4).map { _ in limiter.decide(policy, keys: keys, now: 0).outcome }
        // The strict zone never delays; the loose one delays from excess 2 on: (2 − 1) / 10r/s.
        #expect(outcomes == [.passed, .passed, .delayed(milliseconds: 100), .delayed(milliseconds: 200)])
    }

    @Test mutating func anEmptyKeySkipsItsLimitOnly() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 1), LimitReq(zone: 0)])
        #expect(limiter.decide(policy, keys: [.empty, Self.client], now: 0).outcome == .passed)
        #expect(limiter.decide(policy, keys: [.empty, Self.client], now: 10).outcome == .rejected(status: 503))
        #expect(limiter.decide(policy, keys: [Self.client, .empty], now: 20).outcome == .passed)
        #expect(limiter.decide(policy, keys: [.empty, .empty], now: 30).outcome == .unlimited)
        #expect(limiter.stateCount(zone: 1) == 1)
    }

    @Test mutating func dryRunDecidesAndChargesButForwardsEverything() {
        let policy = LimitReqPolicy(limits: [LimitReq(zone: 1, burst: 1)], dryRun: true)
        let decisions = (0..<3).map { _ in limiter.decide(policy, keys: [Self.client], now: 0) }
        #expect(decisions.map(\.outcome) == [.passed, .delayed(milliseconds: 1000), .rejected(status: 503)])
        #expect(decisions.map(\.action) == [.forward, .forward, .forward])
        #expect(decisions.map(\.nginxStatus) == ["PASSED", "DELAYED_DRY_RUN", "REJECTED_DRY_RUN"])
        // The rejected one was not charged: the state holds the first two.
        #expect(limiter.storedState(zone: 1, key: Self.client)?.excess == 1000)
    }
}
