import RateLimitCore
import Testing

/// One limit on one zone: nginx's leaky bucket decision by decision, with expected values worked
/// out by hand from nginx's arithmetic (excess in thousandths, elapsed in whole milliseconds).
@Suite struct RateLimiterTests {
    static let client = RateLimitKey.ipv4(10, 0, 0, 1)

    /// A limiter with one zone at `rate`, and the limit on it.
    func limiter(_ rate: LimitRate, burst: Int = 0, delay: LimitReq.Delay = .paced, status: Int = 503) -> (RateLimiter, LimitReq) {
        (RateLimiter(zones: [LimitReqZone(name: "one", rate: rate)]), LimitReq(zone: 0, burst: burst, delay: delay, status: status))
    }

    func outcomes(_ limiter: inout RateLimiter, _ limit: LimitReq, at times: [Int64], key: RateLimitKey = client) -> [RateLimitDecision.Outcome] {
        times.map { limiter.decide(limit, key: key, now: $0).outcome }
    }

    // MARK: Burst

    @Test func aNewClientGetsOnePlusBurstAtOnceAndTheBurstIsPacedAtTheRate() {
        var (limiter, limit) = limiter(LimitRate(requests: 1, per: .perSecond), burst: 5)
        let results = outcomes(&limiter, limit, at: Array(repeating: 1_000_000, count: 7))
        #expect(results == [
            .passed, .delayed(milliseconds: 1000), .delayed(milliseconds: 2000), .delayed(milliseconds: 3000),
            .delayed(milliseconds: 4000), .delayed(milliseconds: 5000), .rejected(status: 503),
        ])
    }

    @Test func nodelayForwardsTheBurstAtOnceButStillChargesIt() {
        var (limiter, limit) = limiter(LimitRate(requests: 1, per: .perSecond), burst: 5, delay: .nodelay)
        let now: Int64 = 5_000_000
        #expect(outcomes(&limiter, limit, at: Array(repeating: now, count: 7)) == Array(repeating: .passed, count: 6) + [.rejected(status: 503)])
        // Charged: the bucket holds 5 requests; half a second later 0.5 has drained: 5.5 > 5.
        #expect(limiter.decide(limit, key: Self.client, now: now + 500).outcome == .rejected(status: 503))
        // A full second frees one place.
        #expect(limiter.decide(limit, key: Self.client, now: now + 1000).outcome == .passed)
        #expect(limiter.storedState(zone: 0, key: Self.client) == .init(excess: 5000, lastCharged: now + 1000))
    }

    @Test func delayNForwardsTheFirstNExcessRequestsAtOnce() {
        var (limiter, limit) = limiter(LimitRate(requests: 2, per: .perSecond), burst: 5, delay: .after(2))
        let results = outcomes(&limiter, limit, at: Array(repeating: 0, count: 7))
        // Excess 0, 1, 2 pass; 3, 4, 5 wait (excess − 2) / 2 r/s; 6 is past the burst.
        #expect(results == [.passed, .passed, .passed, .delayed(milliseconds: 500), .delayed(milliseconds: 1000),
                            .delayed(milliseconds: 1500), .rejected(status: 503)])
    }

    @Test func withoutBurstASecondRequestWithinTheIntervalIsRejected() {
        var (limiter, limit) = limiter(LimitRate(requests: 10, per: .perSecond), status: 429)
        #expect(outcomes(&limiter, limit, at: [0, 50, 99, 100, 150, 200]) == [
            .passed, .rejected(status: 429), .rejected(status: 429), .passed, .rejected(status: 429), .passed,
        ])
    }

    @Test func rejectionsChargeNothing() {
        var (limiter, limit) = limiter(LimitRate(requests: 10, per: .perSecond), burst: 1, delay: .nodelay)
        _ = outcomes(&limiter, limit, at: [0, 0])
        let stored = limiter.storedState(zone: 0, key: Self.client)
        #expect(outcomes(&limiter, limit, at: [1, 2, 3]) == Array(repeating: .rejected(status: 503), count: 3))
        #expect(limiter.storedState(zone: 0, key: Self.client) == stored)
    }

    // MARK: Draining

    @Test func theBucketDrainsAtTheRateInWholeMilliseconds() {
        var (limiter, limit) = limiter(LimitRate(requests: 4, per: .perSecond), burst: 3)
        _ = outcomes(&limiter, limit, at: [0, 0, 0, 0])  // excess 0, 1, 2, 3
        // 4 r/s drains 4 thousandths per ms: 130 ms later 0.52 drained, excess 3 − 0.52 + 1 = 3.48.
        #expect(limiter.decide(limit, key: Self.client, now: 130).outcome == .rejected(status: 503))
        // 250 ms later exactly one request drained: excess 3, delayed 3 / 4 r/s.
        #expect(limiter.decide(limit, key: Self.client, now: 250).outcome == .delayed(milliseconds: 750))
    }

    @Test func perMinuteRatesRoundDownLikeNginx() {
        // 1r/m is 16 thousandths per second: one request drains in 62.5 s, not 60.
        #expect(LimitRate(requests: 1, per: .perMinute).milliRequestsPerSecond == 16)
        #expect(LimitRate(requests: 30, per: .perMinute).milliRequestsPerSecond == 500)
        var (limiter, limit) = limiter(LimitRate(requests: 1, per: .perMinute))
        #expect(outcomes(&limiter, limit, at: [0, 60_000, 62_499, 62_500]) == [.passed, .rejected(status: 503), .rejected(status: 503), .passed])
    }

    @Test func theDrainRemainderIsLostWhenTheStateIsCharged() {
        // 30r/m drains 0.5 per ms; 1 ms drains 0 (rounded down) yet the state moves to the new time.
        var (limiter, limit) = limiter(LimitRate(requests: 30, per: .perMinute), burst: 2, delay: .nodelay)
        #expect(outcomes(&limiter, limit, at: [0, 1, 2]) == [.passed, .passed, .passed])
        #expect(limiter.storedState(zone: 0, key: Self.client) == .init(excess: 2000, lastCharged: 2))
    }

    @Test func aRequestInTheSameMillisecondKeepsTheChargeTime() {
        var (limiter, limit) = limiter(LimitRate(requests: 1, per: .perSecond), burst: 5, delay: .nodelay)
        _ = outcomes(&limiter, limit, at: [100, 600, 600])
        // The charge at 600 moved the time; the second at 600 (elapsed 0) leaves it.
        #expect(limiter.storedState(zone: 0, key: Self.client) == .init(excess: 1500, lastCharged: 600))
    }

    @Test func aClockGoingBackDrainsNothingAndFarBackDrainsOneMillisecond() {
        #expect(LimitReqArithmetic.elapsed(now: 100, last: 200) == 0)
        #expect(LimitReqArithmetic.elapsed(now: 0, last: 60_000) == 0)
        #expect(LimitReqArithmetic.elapsed(now: 0, last: 60_001) == 1)
        var (limiter, limit) = limiter(LimitRate(requests: 1000, per: .perSecond), burst: 10, delay: .nodelay)
        _ = outcomes(&limiter, limit, at: [100_000, 100_000])  // excess 1
        _ = limiter.decide(limit, key: Self.client, now: 99_000)  // 1 s back: nothing drains, excess 2
        #expect(limiter.storedState(zone: 0, key: Self.client) == .init(excess: 2000, lastCharged: 100_000))
        _ = limiter.decide(limit, key: Self.client, now: 10_000)  // 90 s back: 1 ms drains 1, excess 2
        #expect(limiter.storedState(zone: 0, key: Self.client) == .init(excess: 2000, lastCharged: 10_000))
    }

    @Test func arithmeticSaturatesInsteadOfOverflowing() {
        #expect(LimitReqArithmetic.drained(rate: 1_000_000_000_000, milliseconds: Int64.max) == Int64.max)
        #expect(LimitReqArithmetic.excess(stored: 5000, rate: 1_000_000_000_000, elapsed: Int64.max) == 0)
        #expect(LimitReqArithmetic.delay(excess: 3000, threshold: 0, rate: 16) == 187_500)
        #expect(LimitReqArithmetic.delay(excess: 3000, threshold: Int64.max, rate: 16) == 0)
    }

    // MARK: Keys

    @Test func keysAreCountedSeparately() {
        var (limiter, limit) = limiter(LimitRate(requests: 1, per: .perSecond))
        let other = RateLimitKey.ipv4(10, 0, 0, 2)
        #expect(limiter.decide(limit, key: Self.client, now: 0).outcome == .passed)
        #expect(limiter.decide(limit, key: other, now: 0).outcome == .passed)
        #expect(limiter.decide(limit, key: Self.client, now: 1).outcome == .rejected(status: 503))
        let long = RateLimitKey(Array(repeating: 7, count: 300))
        #expect(limiter.decide(limit, key: long, now: 0).outcome == .passed)
        #expect(limiter.decide(limit, key: long, now: 1).outcome == .rejected(status: 503))
        #expect(limiter.stateCount(zone: 0) == 3)
    }

    @Test func emptyAndOverlongKeysAreNotLimited() {
        var (limiter, limit) = limiter(LimitRate(requests: 1, per: .perMinute))
        let overlong = RateLimitKey(Array(repeating: 1, count: RateLimitKey.maximumLength + 1))
        for now in 0..<5 as Range<Int64> {
            #expect(limiter.decide(limit, key: .empty, now: now).outcome == .unlimited)
            #expect(limiter.decide(limit, key: overlong, now: now).outcome == .unlimited)
        }
        #expect(limiter.stateCount(zone: 0) == 0)
        #expect(limiter.decide(limit, key: .empty, now: 0).nginxStatus == "")
    }

    // MARK: Decisions

    @Test func decisionsSayWhatToDoAndHowNginxNamesThem() {
        let delayed = RateLimitDecision(outcome: .delayed(milliseconds: 250), limit: 0, excess: 2500)
        #expect(delayed.action == .forwardAfter(milliseconds: 250))
        #expect(delayed.nginxStatus == "DELAYED")
        #expect(delayed.description == "delayed 250ms (limit 0, excess 2.500)")
        let rejected = RateLimitDecision(outcome: .rejected(status: 429), dryRun: true, limit: 1, excess: 6010)
        #expect(rejected.action == .forward)
        #expect(rejected.nginxStatus == "REJECTED_DRY_RUN")
        #expect(rejected.description == "rejected 429 (limit 1, excess 6.010) [dry run]")
        #expect(RateLimitDecision(outcome: .passed).action == .forward)
        #expect(RateLimitDecision(outcome: .rejected(status: 503)).action == .reject(status: 503))
    }
}
