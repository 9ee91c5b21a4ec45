import RateLimitCore

// MARK: - More scenarios: delays, rounding, several limits, zone memory

extension RateLimitScenario {
    /// 5r/s, burst 5, delay=2: of a burst, two excess requests pass at once and three wait 200,
    /// 400 and 600 ms; half a second later the bucket has drained 2.5 requests, so the next ones
    /// wait 300 and 500 ms and the third is rejected.
    public static var delayAfterRefill: RateLimitScenario {
        var scenario = RateLimitScenario(name: "burst=5 delay=2, refilled", zones: [zone("one", 5)],
                                         policy: LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 5, delay: .after(2))]))
        scenario.send(7, at: 0, client: 1)
        scenario.send(3, at: 500, client: 1)
        scenario.send(at: 500, client: 2)
        return scenario
    }

    /// 4r/m is 66 thousandths a second after nginx's rounding (not 66.67): a second request
    /// 15.06 s after the first is rejected (a request every 15 s would pass it), one 15.3 s after passes.
    public static var perMinuteRounding: RateLimitScenario {
        var scenario = RateLimitScenario(name: "rate=4r/m rounding", zones: [zone("one", 4, per: .perMinute)],
                                         policy: LimitReqPolicy(limits: [LimitReq(zone: 0)]))
        scenario.send(at: 0, client: 1)
        scenario.send(at: 15_060, client: 1)
        scenario.send(at: 15_300, client: 1)
        return scenario
    }

    /// 1r/s without burst: a request within the second after the last one passed is rejected,
    /// and a rejected request charges nothing (1.1 s after the first passes).
    public static var onePerSecond: RateLimitScenario {
        var scenario = RateLimitScenario(name: "rate=1r/s burst=0", zones: [zone("one", 1)], policy: LimitReqPolicy(limits: [LimitReq(zone: 0)]))
        scenario.send(at: 0, client: 1)
        scenario.send(at: 600, client: 1)
        scenario.send(at: 600, client: 2)
        scenario.send(at: 1100, client: 1)
        scenario.send(at: 1500, client: 1)
        scenario.send(at: 2200, client: 1)
        return scenario
    }

    /// Three limits on every request: per client 10r/s burst 8 delay=1, per `X-App` 2r/s burst 2
    /// (paced), per `X-T` 4r/s burst 3 nodelay; status 429. The longest delay applies, whichever
    /// zone it comes from; a rejection by the second or the last zone charges none; a request
    /// without `X-T` (the last limit's key empty) or without either header is still charged by
    /// the others.
    public static var threeZones: RateLimitScenario {
        var scenario = RateLimitScenario(
            name: "three zones (addr delay=1, x-app paced, x-t nodelay)",
            zones: [zone("per_client", 10), zone("per_app", 2, key: .header("x-app")), zone("per_t", 4, key: .header("x-t"))],
            policy: LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 8, delay: .after(1), status: 429), LimitReq(zone: 1, burst: 2, status: 429),
                                            LimitReq(zone: 2, burst: 3, delay: .nodelay, status: 429)]))
        scenario.send(2, at: 0, client: 1, headers: ["x-app": "a", "x-t": "t"])
        scenario.send(at: 0, client: 1, headers: ["x-app": "a"])
        scenario.send(at: 0, client: 1, headers: ["x-app": "a", "x-t": "t"])
        for app in ["b", "c", "d"] { scenario.send(at: 0, client: 1, headers: ["x-app": app, "x-t": "t"]) }
        scenario.send(at: 0, client: 1, headers: ["x-app": "e"])
        scenario.send(at: 0, client: 1)
        scenario.send(at: 1200, client: 1, headers: ["x-app": "a", "x-t": "t"])
        return scenario
    }

    /// ``threeZones`` in dry run: nothing waits or is refused, the same decisions are reported
    /// and charged.
    public static var threeZonesDryRun: RateLimitScenario {
        var scenario = threeZones
        scenario.name = "three zones, dry run"
        scenario.policy.dryRun = true
        return scenario
    }

    /// 60-byte keys take nginx's 256-byte slab class: a 32k zone holds 80 of them (its 128-byte
    /// class keeps a page for the zone's own head), so the 81st evicts the first, which is then new.
    public static var longKeyEviction: RateLimitScenario {
        var scenario = RateLimitScenario(name: "32k zone, 60-byte keys", zones: [zone("small", 1, per: .perMinute, key: .header("x-key"), size: 32 * 1024)],
                                         policy: LimitReqPolicy(limits: [LimitReq(zone: 0, status: 429)]), jitter: 1000)
        let long = String(repeating: "L", count: 58)
        // 4 ms apart: a server that takes connections on several threads sees them in order.
        for key in 0..<81 { scenario.send(at: Int64(key) * 4, client: 1, headers: ["x-key": long + String(key + 10)]) }
        scenario.send(at: 500, client: 1, headers: ["x-key": long + "10"])
        scenario.send(at: 520, client: 1, headers: ["x-key": long + "12"])
        return scenario
    }

    /// A 32k zone full of short keys (191) has no page for a 60-byte key: nginx evicts the least
    /// recently used state and still cannot store it (the freed slot is in a page of another
    /// size), so it rejects, each time evicting one more; short keys then fit in the freed slots.
    public static var mixedKeyEviction: RateLimitScenario {
        var scenario = RateLimitScenario(name: "32k zone, short keys then long ones", zones: [zone("small", 1, per: .perMinute, key: .header("x-key"), size: 32 * 1024)],
                                         policy: LimitReqPolicy(limits: [LimitReq(zone: 0, status: 429)]), jitter: 1000)
        for key in 0..<191 { scenario.send(at: Int64(key) * 3, client: 1, headers: ["x-key": "k\(key)"]) }
        let long = String(repeating: "L", count: 59)
        for key in 1...3 { scenario.send(at: 600 + Int64(key) * 20, client: 1, headers: ["x-key": long + String(key)]) }
        for key in [0, 1, 2, 3] { scenario.send(at: 700 + Int64(key) * 20, client: 1, headers: ["x-key": "k\(key)"]) }
        return scenario
    }

    /// A 64k zone (15 pages) with keys of five sizes: states of 128, 256 and 512 bytes, of one
    /// page and of two. Which new key finds room, which state a full zone forgets and which key
    /// is then new again depends on the pages each class holds, as in nginx's slab allocator.
    public static var mixedKeySizes: RateLimitScenario {
        var scenario = RateLimitScenario(name: "64k zone, keys of five sizes", zones: [zone("mixed", 1, per: .perMinute, key: .header("x-key"), size: 64 * 1024)],
                                         policy: LimitReqPolicy(limits: [LimitReq(zone: 0, status: 429)]), jitter: 1000)
        let lengths = [4, 60, 300, 2500, 60, 4, 5000, 300]
        func key(_ index: Int) -> String {
            let name = "k\(index)-"
            return name + String(repeating: "x", count: max(0, lengths[index % lengths.count] - name.count))
        }
        for index in 0..<48 { scenario.send(at: Int64(index) * 10, client: 1, headers: ["x-key": key(index)]) }
        for (position, index) in stride(from: 0, to: 48, by: 3).enumerated() {
            scenario.send(at: 600 + Int64(position) * 10, client: 1, headers: ["x-key": key(index)])
        }
        return scenario
    }
}
