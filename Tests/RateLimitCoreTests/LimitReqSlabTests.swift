import RateLimitCore
import Testing

/// The page model against figures real nginx 1.22 shows (its differential traces check the same
/// through requests).
@Suite struct LimitReqSlabTests {
    /// How many allocations of `bytes` fit in a fresh zone.
    func capacity(zoneSize: Int, bytes: Int) -> Int {
        var slab = LimitReqSlab(zoneSize: zoneSize, zoneName: "one")
        var count = 0
        while slab.allocate(bytes: bytes) != nil { count += 1 }
        return count
    }

    @Test func aZoneHoldsAsManyStatesOfEachSizeAsNginxsZone() {
        #expect(capacity(zoneSize: 32 * 1024, bytes: 80 + 4) == 191)  // the zone's head shares the 128-byte page
        #expect(capacity(zoneSize: 32 * 1024, bytes: 80 + 60) == 80)  // the head keeps a page of its own
        #expect(capacity(zoneSize: 1024 * 1024, bytes: 80 + 4) == 8095)
        #expect(capacity(zoneSize: 1024 * 1024, bytes: 80 + 60) == 4032)
        #expect(capacity(zoneSize: 32 * 1024, bytes: 80 + 5000) == 2)  // two pages each, of 5
    }

    @Test func aFreedChunkMakesRoomOnlyForItsOwnClass() {
        var slab = LimitReqSlab(zoneSize: 32 * 1024, zoneName: "one")
        var short: [LimitReqSlab.Address] = []
        while let address = slab.allocate(bytes: 84) { short.append(address) }
        #expect(short.count == 191)
        // The first 31 share the zone's head's page; the next 32 fill a page of their own.
        slab.free(short[31])
        slab.free(short[32])
        #expect(!slab.canAllocate(bytes: 140))  // their page still holds 30 short states
        #expect(slab.canAllocate(bytes: 84))
        for address in short[0..<31] { slab.free(address) }  // the head's page never empties
        #expect(!slab.canAllocate(bytes: 140))
        for address in short[33..<63] { slab.free(address) }
        #expect(slab.canAllocate(bytes: 140))
    }

    @Test func freedPagesJoinTheirNeighbours() {
        var slab = LimitReqSlab(zoneSize: 32 * 1024, zoneName: "one")  // 5 free pages
        let pages = (0..<5).compactMap { _ in slab.allocate(bytes: 3000) }
        #expect(pages.count == 5 && !slab.canAllocate(bytes: 3000))
        slab.free(pages[1])
        slab.free(pages[3])
        #expect(!slab.canAllocate(bytes: 5000))  // two free pages, not adjacent
        slab.free(pages[2])
        #expect(slab.allocate(bytes: 12_000) != nil)  // pages 1 to 3 as one run
        #expect(!slab.canAllocate(bytes: 3000))
    }

    @Test func aFullZoneOfShortKeysRefusesALongOneAsNginxDoes() {
        // nginx: evicting the least recently used short key frees a 128-byte chunk, not a page,
        // so the 60-byte key is refused ("could not allocate node") and each try evicts one more.
        var limiter = RateLimiter(zones: [LimitReqZone(name: "small", key: .header("x-key"), rate: LimitRate(requests: 1, per: .perMinute), size: 32 * 1024)])
        let limit = LimitReq(zone: 0, status: 429)
        for index in 0..<191 { #expect(limiter.decide(limit, key: RateLimitKey("k\(index)"), now: 1000).outcome == .passed) }
        let long = String(repeating: "L", count: 60)
        for attempt in 1...3 {
            let decision = limiter.decide(limit, key: RateLimitKey(long + "\(attempt)"), now: 2000)
            #expect(decision.outcome == .rejected(status: 429) && decision.zoneExhausted)
        }
        #expect(limiter.stateCount(zone: 0) == 188)
        #expect(limiter.decide(limit, key: RateLimitKey("k3"), now: 3000).outcome == .rejected(status: 429))
    }
}
