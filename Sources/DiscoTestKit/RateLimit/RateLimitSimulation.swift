import DiscoCore
import RateLimitCore

// MARK: - RateLimitSimulation

/// Seeded random request traces through ``RateLimiter``: zones, policies, clients and time gaps
/// all come from the seed, so a failing seed replays exactly. After every request the simulation
/// checks the limiter against ``RateLimitOracle`` (same decision, same states in the same LRU
/// order) and its memory against the zone budgets; at the end it checks, for every key of every
/// zone, that the requests charged in any window never exceed the leaky bucket's bound, and that
/// paced requests are forwarded at most at the rate.
public struct RateLimitSimulation: Sendable {
    /// What one seed produced.
    public struct Report: Sendable {
        public var seed: UInt64
        public var requests = 0
        public var outcomes: [String: Int] = [:]
        public var evictions = 0
        public var violations: [String] = []
        /// The scenario and the last requests, for a failing seed.
        public var trace: [String] = []
    }

    /// One charged request of one key in one zone.
    struct Charge {
        var time: Int64
        /// The zone had no state for the key (or one never charged): its bucket started empty.
        var fresh: Bool
        /// When the request was forwarded (time + delay), for single paced limits; else `nil`.
        var forwarded: Int64?
    }

    let seed: UInt64
    let steps: Int
    var random: DeterministicRandom
    let zones: [LimitReqZone]
    let policy: LimitReqPolicy
    /// Per zone: how a client's key is made (`nil`: this client has no key there).
    let clientKeys: [[RateLimitKey]]
    var limiter: RateLimiter
    var oracle: RateLimitOracle
    var now: Int64
    var charges: [[RateLimitKey: [Charge]]]
    var report: Report

    public init(seed: UInt64, steps: Int = 400) {
        self.seed = seed
        self.steps = steps
        var random = DeterministicRandom(seed: seed)
        let zoneCount = 1 + Int(random.next() % 3)
        var zones: [LimitReqZone] = []
        for index in 0..<zoneCount {
            let rate = random.next() % 2 == 0
                ? LimitRate(requests: 1 + Int(random.next() % 100), per: .perSecond)
                : LimitRate(requests: 1 + Int(random.next() % 3000), per: .perMinute)
            let size = random.next() % 3 == 0 ? 1 << 20 : 32 * 1024
            zones.append(LimitReqZone(name: "z\(index)", key: index % 2 == 0 ? .address : .appID, rate: rate, size: size))
        }
        let limitCount = 1 + Int(random.next() % UInt64(zoneCount))
        let order = (0..<zoneCount).shuffled(using: &random).prefix(limitCount)
        let limits = order.map { zone -> LimitReq in
            let delay: LimitReq.Delay
            switch random.next() % 3 {
            case 0: delay = .paced
            case 1: delay = .nodelay
            default: delay = .after(1 + Int(random.next() % 5))
            }
            let burst = Int(random.next() % 9)
            return LimitReq(zone: zone, burst: burst, delay: delay, status: random.next() % 2 == 0 ? 503 : 429)
        }
        policy = LimitReqPolicy(limits: limits, dryRun: random.next() % 10 == 0)
        let clientCount = [1, 3, 20, 300][Int(random.next() % 4)]
        clientKeys = zones.map { zone in
            (0..<clientCount).map { client in
                switch zone.key {
                case .appID: client % 5 == 4 ? .empty : RateLimitKey("app-\(client)-\(String(repeating: "x", count: client % 40))")
                default: RateLimitKey([10, UInt8(client >> 16 & 255), UInt8(client >> 8 & 255), UInt8(client & 255)])
                }
            }
        }
        self.zones = zones
        self.random = random
        limiter = RateLimiter(zones: zones)
        oracle = RateLimitOracle(zones: zones)
        now = 1_000_000_000 + Int64(random.next() % 1_000_000)
        charges = Array(repeating: [:], count: zones.count)
        report = Report(seed: seed)
        report.trace.append("zones: " + zones.map { "\($0.name) \($0.key) rate=\($0.rate) size=\($0.size)" }.joined(separator: "; "))
        report.trace.append("policy: " + limits.map { "zone=\(zones[$0.zone].name) burst=\($0.burst) \($0.delay) status=\($0.status)" }
            .joined(separator: "; ") + (policy.dryRun ? " dry-run" : "") + "; \(clientCount) clients")
    }

    // MARK: Running

    /// Runs every step and the final checks.
    public mutating func run() -> Report {
        for _ in 0..<steps where report.violations.isEmpty { step() }
        if report.violations.isEmpty { checkBounds() }
        return report
    }

    mutating func step() {
        switch random.next() % 100 {
        case 0..<40: break
        case 40..<70: now += Int64(1 + random.next() % 20)
        case 70..<90: now += Int64(20 + random.next() % 480)
        case 90..<99: now += Int64(500 + random.next() % 4500)
        default: now += Int64(60_000 + random.next() % 70_000)
        }
        let client = Int(random.next() % UInt64(clientKeys[0].count))
        let keys = policy.limits.map { clientKeys[$0.zone][client] }
        let fresh = policy.limits.indices.map { index in
            limiter.storedState(zone: policy.limits[index].zone, key: keys[index])?.lastCharged == nil
        }
        let countsBefore = zones.indices.map { limiter.stateCount(zone: $0) }
        let decision = limiter.decide(policy, keys: keys, now: now)
        let expected = oracle.decide(policy, keys: keys, now: now)
        report.requests += 1
        report.outcomes[decision.nginxStatus.isEmpty ? "UNLIMITED" : decision.nginxStatus, default: 0] += 1
        appendTrace("t=\(now) client \(client): \(decision)")
        if decision != expected { violate("request at \(now) by client \(client): limiter \(decision), oracle \(expected)") }
        for zone in zones.indices {
            if limiter.stateCount(zone: zone) < countsBefore[zone] { report.evictions += 1 }
            checkMemory(zone: zone)
        }
        recordCharges(decision, keys: keys, fresh: fresh)
    }

    // MARK: Invariants after every step

    mutating func checkMemory(zone: Int) {
        let budget = zones[zone].budget.bytes
        if limiter.usedBytes(zone: zone) > budget { violate("zone \(zone) holds \(limiter.usedBytes(zone: zone)) bytes of states, budget \(budget)") }
        if limiter.usedBytes(zone: zone) != oracle.usedBytes(zone: zone) || limiter.stateCount(zone: zone) != oracle.stateCount(zone: zone) {
            violate("zone \(zone): \(limiter.stateCount(zone: zone)) states / \(limiter.usedBytes(zone: zone)) bytes, oracle \(oracle.stateCount(zone: zone)) / \(oracle.usedBytes(zone: zone))")
        }
        // Real memory: arrays, index and long keys stay within the zone's size plus a quarter.
        if limiter.allocatedBytes(zone: zone) > zones[zone].size + zones[zone].size / 4 {
            violate("zone \(zone) allocated \(limiter.allocatedBytes(zone: zone)) bytes for a \(zones[zone].size)-byte zone")
        }
        if report.requests % 50 == 0, limiter.keysByRecency(zone: zone) != oracle.keysByRecency(zone: zone) {
            violate("zone \(zone): LRU order differs from the oracle's")
        }
    }

    mutating func recordCharges(_ decision: RateLimitDecision, keys: [RateLimitKey], fresh: [Bool]) {
        switch decision.outcome {
        case .passed, .delayed: break
        case .rejected, .unlimited: return
        }
        var delay: Int64 = 0
        if case .delayed(let milliseconds) = decision.outcome { delay = milliseconds }
        let paced = policy.limits.count == 1 && policy.limits[0].delay == .paced
        for (index, limit) in policy.limits.enumerated() where keys[index].isAccountable {
            charges[limit.zone][keys[index], default: []].append(Charge(time: now, fresh: fresh[index], forwarded: paced ? now + delay : nil))
        }
    }

    // MARK: Final checks

    /// For every key of every zone: in any window [t_i, t_j] of charged requests,
    /// `(j − i + 1) × 10⁶ ≤ segments × (1 + burst) × 10⁶ + rate × (t_j − t_i)`, where a segment
    /// starts at each fresh bucket; and paced requests of one bucket are forwarded at least
    /// `10⁶ / rate − 1` ms apart.
    mutating func checkBounds() {
        for limit in policy.limits {
            let rate = zones[limit.zone].rate.milliRequestsPerSecond
            for (key, list) in charges[limit.zone] {
                for first in list.indices {
                    var segments: Int64 = 1
                    for last in first..<list.count {
                        if last > first && list[last].fresh { segments += 1 }
                        let admitted = Int64(last - first + 1) * 1_000_000
                        let bound = segments * Int64(1 + limit.burst) * 1_000_000 + rate * (list[last].time - list[first].time)
                        if admitted > bound {
                            violate("zone \(limit.zone) key \(key): \(last - first + 1) requests charged in \(list[last].time - list[first].time) ms over \(segments) bucket(s), more than burst \(limit.burst) + rate \(zones[limit.zone].rate) allow")
                            return
                        }
                    }
                }
                let interval = 1_000_000 / rate - 1
                for index in list.indices.dropFirst() where !list[index].fresh {
                    guard let previous = list[index - 1].forwarded, let current = list[index].forwarded else { continue }
                    if current - previous < interval {
                        violate("zone \(limit.zone) key \(key): paced requests forwarded at \(previous) and \(current), less than \(interval) ms apart")
                        return
                    }
                }
            }
        }
    }

    // MARK: Reporting

    mutating func violate(_ message: String) {
        report.violations.append(message)
    }

    mutating func appendTrace(_ line: String) {
        report.trace.append(line)
        if report.trace.count > 60 { report.trace.remove(at: 2) }
    }
}
