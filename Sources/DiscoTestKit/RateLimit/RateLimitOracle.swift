import RateLimitCore

// MARK: - RateLimitOracle

/// A deliberately plain second implementation of nginx's `limit_req`, written the way nginx's
/// handler reads (look up every limit, break at the first rejection, then charge the earlier
/// ones), with a dictionary and an array for the LRU order (O(n) per request). The simulator
/// checks that ``RateLimiter`` decides and stores exactly what this does, step by step.
public struct RateLimitOracle: Sendable {
    struct State: Hashable, Sendable {
        var excess: Int64
        /// `nil`: created for a request a later limit rejected (nginx's time 0).
        var last: Int64?
    }

    struct Zone: Sendable {
        let rate: Int64
        let budget: Int
        var states: [RateLimitKey: State] = [:]
        /// Least recently used first.
        var order: [RateLimitKey] = []
        var used = 0
        /// The pages nginx's zone would keep the states in, and each state's place there.
        var slab: LimitReqSlab
        var addresses: [RateLimitKey: LimitReqSlab.Address] = [:]

        func fits(_ key: RateLimitKey) -> Bool {
            used + LimitReqZoneBudget.stateBytes(keyLength: key.bytes.count) <= budget && slab.canAllocate(bytes: 80 + key.bytes.count)
        }
    }

    var zones: [Zone]

    public init(zones: [LimitReqZone]) {
        self.zones = zones.map { Zone(rate: $0.rate.milliRequestsPerSecond, budget: $0.budget.bytes, slab: LimitReqSlab(zoneSize: $0.size, zoneName: $0.name)) }
    }

    /// Keys of `zone`, least recently used first.
    public func keysByRecency(zone: Int) -> [RateLimitKey] { zones[zone].order }
    public func stateCount(zone: Int) -> Int { zones[zone].states.count }
    public func usedBytes(zone: Int) -> Int { zones[zone].used }

    // MARK: Deciding

    public mutating func decide(_ policy: LimitReqPolicy, keys: [RateLimitKey], now: Int64) -> RateLimitDecision {
        var lookedUp: [(limit: Int, key: RateLimitKey)] = []
        var lastExcess: Int64?
        for (index, limit) in policy.limits.enumerated() {
            let key = keys[index]
            if key.bytes.isEmpty || key.bytes.count > 65535 { continue }
            let charge = index == policy.limits.count - 1
            if var state = zones[limit.zone].states[key] {
                zones[limit.zone].order.removeAll { $0 == key }
                zones[limit.zone].order.append(key)
                let (excess, elapsed) = advance(state, zone: limit.zone, now: now)
                if excess > Int64(limit.burst) * 1000 {
                    return RateLimitDecision(outcome: .rejected(status: limit.status), dryRun: policy.dryRun, limit: index, excess: excess,
                                             perLimit: Self.perLimit([index: .rejected]))
                }
                if charge {
                    state.excess = excess
                    if elapsed != 0 { state.last = now }
                    zones[limit.zone].states[key] = state
                    lastExcess = excess
                }
            } else {
                expire(zone: limit.zone, force: false, now: now)
                let size = LimitReqZoneBudget.stateBytes(keyLength: key.bytes.count)
                if !zones[limit.zone].fits(key) {
                    expire(zone: limit.zone, force: true, now: now)
                    if !zones[limit.zone].fits(key) {
                        return RateLimitDecision(outcome: .rejected(status: limit.status), dryRun: policy.dryRun, limit: index, zoneExhausted: true,
                                                 perLimit: Self.perLimit([index: .rejected]))
                    }
                }
                zones[limit.zone].states[key] = State(excess: 0, last: charge ? now : nil)
                zones[limit.zone].order.append(key)
                zones[limit.zone].used += size
                zones[limit.zone].addresses[key] = zones[limit.zone].slab.allocate(bytes: 80 + key.bytes.count)
                if charge { lastExcess = 0 }
            }
            if !charge { lookedUp.append((index, key)) }
        }
        if lookedUp.isEmpty && lastExcess == nil { return RateLimitDecision(outcome: .unlimited, dryRun: policy.dryRun) }

        // What each charged limit did, by its own delay.
        var verdicts: [Int: RateLimitDecision.PerLimit.Verdict] = [:]
        var best: (delay: Int64, limit: Int, excess: Int64) = (0, 0, 0)
        if let lastExcess {
            let index = policy.limits.count - 1
            best = (delayFor(policy.limits[index], excess: lastExcess), index, lastExcess)
            verdicts[index] = best.delay > 0 ? .delayed : .passed
        }
        for (index, key) in lookedUp.reversed() {
            let zone = policy.limits[index].zone
            guard var state = zones[zone].states[key] else { continue }
            let (excess, elapsed) = advance(state, zone: zone, now: now)
            state.excess = excess
            if elapsed != 0 { state.last = now }
            zones[zone].states[key] = state
            let delay = delayFor(policy.limits[index], excess: excess)
            if delay > best.delay { best = (delay, index, excess) }
            verdicts[index] = delay > 0 ? .delayed : .passed
        }
        if best.delay == 0 { return RateLimitDecision(outcome: .passed, dryRun: policy.dryRun, perLimit: Self.perLimit(verdicts)) }
        return RateLimitDecision(outcome: .delayed(milliseconds: best.delay), dryRun: policy.dryRun, limit: best.limit, excess: best.excess,
                                 perLimit: Self.perLimit(verdicts))
    }

    /// The masks of a decision, from each limit's verdict.
    static func perLimit(_ verdicts: [Int: RateLimitDecision.PerLimit.Verdict]) -> RateLimitDecision.PerLimit {
        var masks: [RateLimitDecision.PerLimit.Verdict: UInt64] = [:]
        for (index, verdict) in verdicts where index < 64 { masks[verdict, default: 0] += UInt64(1) << UInt64(index) }
        return RateLimitDecision.PerLimit(passed: masks[.passed] ?? 0, delayed: masks[.delayed] ?? 0, rejected: masks[.rejected] ?? 0)
    }

    private func advance(_ state: State, zone: Int, now: Int64) -> (excess: Int64, elapsed: Int64) {
        guard let last = state.last else { return (0, 1) }
        var elapsed = now - last
        if elapsed < -60_000 { elapsed = 1 } else if elapsed < 0 { elapsed = 0 }
        let drained = zones[zone].rate * elapsed / 1000
        return (max(0, state.excess - drained + 1000), elapsed)
    }

    private func delayFor(_ limit: LimitReq, excess: Int64) -> Int64 {
        let threshold: Int64
        switch limit.delay {
        case .paced: threshold = 0
        case .nodelay: return 0
        case .after(let requests): threshold = Int64(requests) * 1000
        }
        return excess > threshold ? (excess - threshold) * 1000 / zones[limit.zone].rate : 0
    }

    private mutating func expire(zone: Int, force: Bool, now: Int64) {
        var examined = force ? 0 : 1
        while examined < 3, let oldest = zones[zone].order.first, let state = zones[zone].states[oldest] {
            if examined != 0 {
                if let last = state.last {
                    let idle = abs(now - last)
                    if idle < 60_000 || state.excess - zones[zone].rate * idle / 1000 > 0 { return }
                }
            }
            examined += 1
            zones[zone].order.removeFirst()
            zones[zone].states[oldest] = nil
            zones[zone].used -= LimitReqZoneBudget.stateBytes(keyLength: oldest.bytes.count)
            if let address = zones[zone].addresses.removeValue(forKey: oldest) { zones[zone].slab.free(address) }
        }
    }
}
