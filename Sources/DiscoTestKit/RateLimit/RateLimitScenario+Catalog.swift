import RateLimitCore

// MARK: - Scenarios for the differential tests

/// The traces every rate-limiting system is compared on (nginx now, the sidecar later). Each
/// stays robust to its ``jitter`` ms of timing error (checked by a unit test), and each says
/// which decisions it must contain, so a trace that stopped exercising its case fails loudly.
extension RateLimitScenario {
    /// All scenarios with the decisions (`$limit_req_status` names) each must produce.
    public static var catalog: [(scenario: RateLimitScenario, mustInclude: Set<String>)] {
        [
            (burstPaced, ["PASSED", "DELAYED", "REJECTED"]),
            (burstNodelay, ["PASSED", "REJECTED"]),
            (delayAfter, ["PASSED", "DELAYED", "REJECTED"]),
            (perMinute, ["PASSED", "DELAYED", "REJECTED"]),
            (twoZones, ["PASSED", "DELAYED", "REJECTED"]),
            (dryRun, ["PASSED", "DELAYED_DRY_RUN", "REJECTED_DRY_RUN"]),
            (eviction, ["PASSED", "REJECTED"]),
            (delayAfterRefill, ["PASSED", "DELAYED", "REJECTED"]),
            (perMinuteRounding, ["PASSED", "REJECTED"]),
            (onePerSecond, ["PASSED", "REJECTED"]),
            (threeZones, ["PASSED", "DELAYED", "REJECTED"]),
            (threeZonesDryRun, ["PASSED", "DELAYED_DRY_RUN", "REJECTED_DRY_RUN"]),
            (longKeyEviction, ["PASSED", "REJECTED"]),
            (mixedKeyEviction, ["PASSED", "REJECTED"]),
            (mixedKeySizes, ["PASSED", "REJECTED"]),
        ]
    }

    static func zone(_ name: String, _ requests: Int, per unit: LimitRate.Unit = .perSecond, key: RateLimitKeySource = .address,
                     size: Int = 1 << 20) -> LimitReqZone {
        LimitReqZone(name: name, key: key, rate: LimitRate(requests: requests, per: unit), size: size)
    }

    /// 5r/s, burst 4: a burst paced at 200 ms, the sixth rejected; the bucket drains; another
    /// client is counted apart.
    public static var burstPaced: RateLimitScenario {
        var scenario = RateLimitScenario(name: "burst=4 (paced)", zones: [zone("one", 5)], policy: LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 4)]))
        scenario.send(6, at: 0, client: 1)
        scenario.send(at: 0, client: 2)
        scenario.send(at: 500, client: 1)
        scenario.send(at: 520, client: 1)
        scenario.send(at: 530, client: 1)
        scenario.send(2, at: 1800, client: 2)
        return scenario
    }

    /// 4r/s, burst 3 nodelay, status 429: the burst passes at once, then the bucket refills.
    public static var burstNodelay: RateLimitScenario {
        var scenario = RateLimitScenario(name: "burst=3 nodelay, status 429", zones: [zone("one", 4)],
                                         policy: LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 3, delay: .nodelay, status: 429)]))
        scenario.send(5, at: 0, client: 1)
        scenario.send(at: 320, client: 1)
        scenario.send(at: 340, client: 1)
        scenario.send(at: 1100, client: 1)
        scenario.send(2, at: 1100, client: 3)
        return scenario
    }

    /// 4r/s, burst 6, delay=2: two excess requests pass at once, the rest are paced.
    public static var delayAfter: RateLimitScenario {
        var scenario = RateLimitScenario(name: "burst=6 delay=2", zones: [zone("one", 4)],
                                         policy: LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 6, delay: .after(2))]))
        scenario.send(8, at: 0, client: 1)
        scenario.send(at: 600, client: 1)
        scenario.send(at: 1800, client: 4)
        return scenario
    }

    /// 100r/m (1.666 requests a second after nginx's rounding), burst 2: delays of 600 and 1200 ms.
    public static var perMinute: RateLimitScenario {
        var scenario = RateLimitScenario(name: "rate=100r/m burst=2", zones: [zone("one", 100, per: .perMinute)],
                                         policy: LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 2)]))
        scenario.send(4, at: 0, client: 1)
        scenario.send(at: 700, client: 1)
        scenario.send(at: 2500, client: 1)
        return scenario
    }

    /// Two zones on one request: per client 10r/s burst 10 nodelay, per `X-App` 2r/s burst 1.
    /// The per-app zone's rejection must not charge the per-client zone (else the per-client
    /// zone would reject one request earlier); requests without `X-App` skip that zone.
    public static var twoZones: RateLimitScenario {
        var scenario = RateLimitScenario(
            name: "two zones (addr, header x-app)", zones: [zone("per_client", 10), zone("per_app", 2, key: .header("x-app"))],
            policy: LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 10, delay: .nodelay), LimitReq(zone: 1, burst: 1)]))
        scenario.send(3, at: 0, client: 1, headers: ["x-app": "a"])
        for app in "bcdefghijk" { scenario.send(at: 0, client: 1, headers: ["x-app": String(app)]) }
        scenario.send(2, at: 0, client: 2)
        scenario.send(at: 1200, client: 1, headers: ["x-app": "a"])
        return scenario
    }

    /// 2r/s, burst 1, dry run: every request is answered at once; the decisions are reported.
    public static var dryRun: RateLimitScenario {
        var scenario = RateLimitScenario(name: "dry run", zones: [zone("one", 2)], policy: LimitReqPolicy(limits: [LimitReq(zone: 0, burst: 1)], dryRun: true))
        scenario.send(3, at: 0, client: 1)
        scenario.send(at: 100, client: 1)
        scenario.send(at: 700, client: 1)
        return scenario
    }

    /// A 32k zone holds 191 states (`X-Key`, 1r/m, status 429): the 192nd key evicts the least
    /// recently used one, and a rejected lookup counts as use. At 1r/m nothing drains in a
    /// second, so a second of timing error changes nothing (and 191 requests at once take time).
    public static var eviction: RateLimitScenario {
        var scenario = RateLimitScenario(name: "32k zone eviction", zones: [zone("small", 1, per: .perMinute, key: .header("x-key"), size: 32 * 1024)],
                                         policy: LimitReqPolicy(limits: [LimitReq(zone: 0, status: 429)]), jitter: 1000)
        for key in 0..<191 { scenario.send(at: 0, client: 1, headers: ["x-key": "k\(key)"]) }
        scenario.send(at: 150, client: 1, headers: ["x-key": "k0"])
        scenario.send(at: 170, client: 1, headers: ["x-key": "k191"])
        scenario.send(at: 190, client: 1, headers: ["x-key": "k1"])
        scenario.send(at: 210, client: 1, headers: ["x-key": "k0"])
        scenario.send(at: 230, client: 1, headers: ["x-key": "k3"])
        return scenario
    }
}
