import RateLimitCore
import Testing

/// Zone sizes, LRU eviction and the freeing of drained states, as nginx does them.
@Suite struct RateLimiterMemoryTests {
    static func key(_ number: Int) -> RateLimitKey { RateLimitKey.ipv4(10, UInt8(number >> 16 & 255), UInt8(number >> 8 & 255), UInt8(number & 255)) }

    // MARK: Budgets

    @Test func budgetsHoldAsManyStatesAsNginxsSlabAllocator() {
        // Measured with nginx 1.22: a 32k zone forgets its first client at the 192nd, a 1m zone at the 8,096th.
        #expect(LimitReqZoneBudget(zoneSize: 32 * 1024, zoneName: "one").capacity(keyLength: 4) == 191)
        #expect(LimitReqZoneBudget(zoneSize: 1024 * 1024, zoneName: "one").capacity(keyLength: 4) == 8095)
        // A name of 43+ bytes puts the zone's log text in the 128-byte class instead of a page of its own.
        #expect(LimitReqZoneBudget(zoneSize: 32 * 1024, zoneName: String(repeating: "z", count: 50)).capacity(keyLength: 4) == 222)
        #expect(LimitReqZoneBudget(zoneSize: 10 * 1024 * 1024, zoneName: "one").capacity(keyLength: 16) == 81_375)
    }

    @Test func statesCostTheirSlabClass() {
        #expect(LimitReqZoneBudget.stateBytes(keyLength: 4) == 128)
        #expect(LimitReqZoneBudget.stateBytes(keyLength: 48) == 128)
        #expect(LimitReqZoneBudget.stateBytes(keyLength: 49) == 256)
        #expect(LimitReqZoneBudget.stateBytes(keyLength: 1968) == 2048)
        #expect(LimitReqZoneBudget.stateBytes(keyLength: 1969) == 4096)
        #expect(LimitReqZoneBudget.stateBytes(keyLength: 65535) == 65536 + 4096)
    }

    // MARK: Eviction

    /// A 32k zone at 1r/m without burst: a remembered client is rejected, a forgotten one passes.
    func fullZone(clients: Int) -> (RateLimiter, LimitReq) {
        var limiter = RateLimiter(zones: [LimitReqZone(name: "one", rate: LimitRate(requests: 1, per: .perMinute), size: 32 * 1024)])
        let limit = LimitReq(zone: 0)
        for number in 0..<clients { _ = limiter.decide(limit, key: Self.key(number), now: Int64(number)) }
        return (limiter, limit)
    }

    @Test func aFullZoneForgetsTheLeastRecentlyUsedClient() {
        var (limiter, limit) = fullZone(clients: 191)
        #expect(limiter.stateCount(zone: 0) == 191)
        #expect(limiter.decide(limit, key: Self.key(0), now: 1000).outcome == .rejected(status: 503))

        (limiter, limit) = fullZone(clients: 192)
        #expect(limiter.stateCount(zone: 0) == 191)
        #expect(limiter.storedState(zone: 0, key: Self.key(0)) == nil)
        #expect(limiter.decide(limit, key: Self.key(0), now: 1000).outcome == .passed)
        // Client 0 came back and evicted client 1, the least recently used.
        #expect(limiter.decide(limit, key: Self.key(1), now: 1001).outcome == .passed)
        #expect(limiter.decide(limit, key: Self.key(3), now: 1002).outcome == .rejected(status: 503))
    }

    @Test func anyLookupCountsAsUseEvenARejectedOne() {
        var (limiter, limit) = fullZone(clients: 191)
        // Client 0 is rejected, but it is now the most recently used: the next new client evicts client 1.
        #expect(limiter.decide(limit, key: Self.key(0), now: 500).outcome == .rejected(status: 503))
        _ = limiter.decide(limit, key: Self.key(1000), now: 501)
        #expect(limiter.storedState(zone: 0, key: Self.key(1)) == nil)
        #expect(limiter.storedState(zone: 0, key: Self.key(0)) != nil)
        #expect(limiter.keysByRecency(zone: 0).suffix(2) == [Self.key(0), Self.key(1000)])
    }

    @Test func aStateThatCannotFitEvenAfterEvictingIsRejectedAsNginxDoes() {
        var (limiter, limit) = fullZone(clients: 191)
        // A 3000-byte key needs a 4 KiB page; evicting one 128-byte state does not make room.
        let huge = RateLimitKey(Array(repeating: 0x41, count: 3000))
        let decision = limiter.decide(limit, key: huge, now: 2000)
        #expect(decision.outcome == .rejected(status: 503))
        #expect(decision.zoneExhausted)
        #expect(limiter.stateCount(zone: 0) == 190)
        #expect(limiter.usedBytes(zone: 0) <= LimitReqZoneBudget(zoneSize: 32 * 1024, zoneName: "one").bytes)
    }

    // MARK: Drained states

    @Test func addingAStateFreesUpToTwoDrainedStatesIdleForAMinute() {
        var limiter = RateLimiter(zones: [LimitReqZone(name: "one", rate: LimitRate(requests: 10, per: .perSecond))])
        let limit = LimitReq(zone: 0)
        for number in 0..<4 { _ = limiter.decide(limit, key: Self.key(number), now: 0) }
        _ = limiter.decide(limit, key: Self.key(100), now: 59_999)
        #expect(limiter.stateCount(zone: 0) == 5)  // idle for less than 60 s: nothing freed
        _ = limiter.decide(limit, key: Self.key(101), now: 60_000)
        #expect(limiter.keysByRecency(zone: 0) == [Self.key(2), Self.key(3), Self.key(100), Self.key(101)])
        // Looking up an existing key frees nothing.
        _ = limiter.decide(limit, key: Self.key(100), now: 70_000)
        #expect(limiter.stateCount(zone: 0) == 4)
    }

    @Test func aStateStillHoldingExcessIsNotFreed() {
        var limiter = RateLimiter(zones: [LimitReqZone(name: "one", rate: LimitRate(requests: 1, per: .perMinute))])
        let limit = LimitReq(zone: 0, burst: 5, delay: .nodelay)
        for _ in 0..<3 { _ = limiter.decide(limit, key: Self.key(0), now: 0) }  // excess 2: drains in 125 s
        _ = limiter.decide(limit, key: Self.key(1), now: 120_000)
        #expect(limiter.storedState(zone: 0, key: Self.key(0)) != nil)
        _ = limiter.decide(limit, key: Self.key(2), now: 125_000)
        #expect(limiter.storedState(zone: 0, key: Self.key(0)) == nil)
    }

    /// nginx's freeing is observable: a drained state still charges the next request its full
    /// remainder, a freed one starts over at 0.
    @Test func whetherADrainedStateWasFreedChangesTheNextDecision() {
        let limit = LimitReq(zone: 0)
        func limiter() -> RateLimiter { RateLimiter(zones: [LimitReqZone(name: "one", rate: LimitRate(requests: 1, per: .perMinute))]) }
        var kept = limiter()
        _ = kept.decide(limit, key: Self.key(0), now: 0)
        // 61 s at 1r/m (16/1000 per s) drains 0.976: excess 0.024 > burst 0.
        #expect(kept.decide(limit, key: Self.key(0), now: 61_000).outcome == .rejected(status: 503))

        var freed = limiter()
        _ = freed.decide(limit, key: Self.key(0), now: 0)
        _ = freed.decide(limit, key: Self.key(1), now: 60_500)  // frees key 0: idle ≥ 60 s, 0 − 0.968 ≤ 0
        #expect(freed.decide(limit, key: Self.key(0), now: 61_000).outcome == .passed)
    }

    /// A new key frees at most two drained states, from the least recently used end, and stops
    /// at the first that is not drained. The same trace on nginx 1.22 (1r/m, burst 0, keys A, B,
    /// C at 0 s, E at 30 s; at 61.5 s D, C, A, E, D) answers 200 200 200, 200, 200 429 200 429 429.
    @Test func aNewKeyFreesAtMostTwoDrainedStates() {
        var limiter = RateLimiter(zones: [LimitReqZone(name: "a", key: .header("x-key"), rate: LimitRate(requests: 1, per: .perMinute), size: 32 * 1024)])
        let limit = LimitReq(zone: 0, status: 429)
        func status(_ key: String, at now: Int64) -> Int {
            switch limiter.decide(limit, key: RateLimitKey(key), now: now).action {
            case .reject(let status): status
            default: 200
            }
        }
        let statuses = [status("A", at: 0), status("B", at: 0), status("C", at: 0), status("E", at: 30_000),
                        status("D", at: 61_500), status("C", at: 61_500), status("A", at: 61_500), status("E", at: 61_500), status("D", at: 61_500)]
        #expect(statuses == [200, 200, 200, 200, 200, 429, 200, 429, 429])
    }

    @Test func usedBytesFollowStatesInAndOut() {
        var limiter = RateLimiter(zones: [LimitReqZone(name: "one", rate: LimitRate(requests: 1, per: .perSecond), size: 32 * 1024)])
        let limit = LimitReq(zone: 0)
        _ = limiter.decide(limit, key: RateLimitKey("short"), now: 0)
        _ = limiter.decide(limit, key: RateLimitKey(String(repeating: "l", count: 100)), now: 0)
        #expect(limiter.usedBytes(zone: 0) == 128 + 256)
        _ = limiter.decide(limit, key: RateLimitKey("later"), now: 120_000)  // frees both drained states
        #expect(limiter.usedBytes(zone: 0) == 128)
        #expect(limiter.keysByRecency(zone: 0) == [RateLimitKey("later")])
    }
}
