// MARK: - RateLimiter

/// nginx's `limit_req` as a pure value: zones of per-key leaky buckets, and a decision for each
/// request under a policy of one or more limits. Time comes in as milliseconds; nothing here
/// reads a clock, sleeps or touches a socket. The owner (the proxy) waits out delays and answers
/// rejections.
///
/// The arithmetic is nginx 1.22's, integer for integer (``LimitReqArithmetic``), and so is the
/// order of effects when a policy has several limits:
///
/// 1. Limits are looked up in order; a limit whose key is empty is skipped. Looking a key up
///    makes its state the most recently used, creating it (excess 0) if it is new.
/// 2. The first limit whose excess would pass its burst rejects the request. Nothing is charged
///    anywhere: the earlier limits were only looked up (states they created stay, uncharged),
///    and the later ones are not looked at.
/// 3. Otherwise every looked-up limit is charged, and the request waits for the longest of their
///    delays (on a tie, the later limit is named in the decision).
///
/// The decision says what each limit did, agreeing with what was charged
/// (``RateLimitDecision/perLimit``): the rejecting limit rejected; each charged limit passed or
/// delayed the request by its own delay; the others (looked up only, or not at all) did nothing.
///
/// In dry run the same happens, but the request is forwarded at once.
///
/// Memory: each zone keeps its states within ``LimitReqZone/budget``, placed in pages as
/// nginx's slab allocator places them (``LimitReqSlab``), so a zone has room for a new state
/// exactly when nginx's zone of the same size does. Adding a state first frees up to two drained
/// states idle for a minute from the least recently used end; when the zone is still full, the
/// least recently used state is evicted (plus up to two drained ones), and when even that leaves
/// no room (the freed chunk is of another size than the new state needs) the request is
/// rejected, as nginx does. Every decision is O(1) (expected) in the number of keys, but for the
/// search of free pages (as nginx's, linear in the free runs) when a page is taken.
///
/// ## A limit shared by a cluster
///
/// A zone that holds across N replicas (each with its own `RateLimiter`) can be built from this
/// core without changing it:
///
/// - Static split: each replica runs the zone at `rate / N` and `burst / N`. No exchange at all,
///   and the cluster admits at most `rate × T + burst + N` in any window T (each replica's
///   first request is free); but a client whose requests all reach one replica gets only 1/N of
///   its allowance.
/// - Exchanged counts: each replica runs the full `rate` and `burst`, counts the requests it
///   charged per key, and every G ms sends those counts to the others (through gossip), each of
///   which charges them to its own bucket as if the requests had come to it (``absorb(zone:key:requests:now:)``).
///   A replica cannot see what the others admitted in the last G + d ms (d bounds how late a
///   count arrives), so over any window T the cluster admits at most
///   `(1 + burst + rate × T) + (N − 1) × (1 + burst + rate × (G + d))` requests of a key: one
///   replica's allowance plus a bounded excess that does not grow with T, so the relative error
///   `(N − 1)(1 + burst + rate(G + d)) / (rate × T)` falls as windows grow. Counts that are lost
///   are never charged elsewhere and add to the excess.
///
/// The second keeps the single-node semantics for clients that stick to one replica and bounds
/// the error for those that do not. ``SharedRateLimiter`` builds it, as a pure core around this
/// one (counts leave as an effect and come back as an input), with the bound stated exactly.
public struct RateLimiter: Sendable {
    /// The zones, indexed by ``LimitReq/zone``.
    public let zones: [LimitReqZone]
    private var tables: [LimitReqStateTable]
    /// Each zone's rate in thousandths per second (read on every decision).
    private let rates: [Int64]

    public init(zones: [LimitReqZone]) {
        self.zones = zones
        self.tables = zones.map { LimitReqStateTable(zone: $0) }
        self.rates = zones.map(\.rate.milliRequestsPerSecond)
    }

    // MARK: Deciding

    /// Decides one request at `now` (milliseconds) under `policy`, with `keys[i]` the request's
    /// key for `policy.limits[i]`'s zone, and charges the zones as nginx would.
    ///
    /// - Precondition: one key per limit; every limit names an existing zone, each zone at most
    ///   once (configuration parsers check this for user input).
    public mutating func decide(_ policy: LimitReqPolicy, keys: [RateLimitKey], now: Int64) -> RateLimitDecision {
        precondition(keys.count == policy.limits.count, "\(keys.count) keys for \(policy.limits.count) limits")
        var pending: [(limit: Int, record: Int32)] = []
        var charged: (limit: Int, excess: Int64)?
        var applied = false
        for (position, limit) in policy.limits.enumerated() where keys[position].isAccountable {
            precondition(tables.indices.contains(limit.zone), "limit \(position) names zone \(limit.zone) of \(tables.count)")
            applied = true
            let isLast = position == policy.limits.count - 1
            switch lookUp(limit, key: keys[position], charge: isLast, now: now) {
            case .rejected(let excess):
                return RateLimitDecision(outcome: .rejected(status: limit.status), dryRun: policy.dryRun, limit: position, excess: excess,
                                         perLimit: .init(.rejected, limit: position))
            case .exhausted:
                return RateLimitDecision(outcome: .rejected(status: limit.status), dryRun: policy.dryRun, limit: position, zoneExhausted: true,
                                         perLimit: .init(.rejected, limit: position))
            case .charged(let excess):
                charged = (position, excess)
            case .pending(let record):
                precondition(!pending.contains { policy.limits[$0.limit].zone == limit.zone }, "zone \(limit.zone) used twice in one policy")
                pending.append((position, record))
            }
        }
        guard applied else { return RateLimitDecision(outcome: .unlimited, dryRun: policy.dryRun) }

        var perLimit = RateLimitDecision.PerLimit()
        var longest: (delay: Int64, limit: Int, excess: Int64) = (0, 0, 0)
        if let charged {
            let limit = policy.limits[charged.limit]
            let delay = LimitReqArithmetic.delay(excess: charged.excess, threshold: limit.delay.thresholdMilli, rate: rate(limit))
            longest = (delay, charged.limit, charged.excess)
            perLimit.set(delay > 0 ? .delayed : .passed, limit: charged.limit)
        }
        for (position, record) in pending.reversed() {
            let limit = policy.limits[position]
            let excess = charge(record, zone: limit.zone, now: now)
            let delay = LimitReqArithmetic.delay(excess: excess, threshold: limit.delay.thresholdMilli, rate: rate(limit))
            if delay > longest.delay { longest = (delay, position, excess) }
            perLimit.set(delay > 0 ? .delayed : .passed, limit: position)
        }
        guard longest.delay > 0 else { return RateLimitDecision(outcome: .passed, dryRun: policy.dryRun, perLimit: perLimit) }
        return RateLimitDecision(outcome: .delayed(milliseconds: longest.delay), dryRun: policy.dryRun, limit: longest.limit, excess: longest.excess,
                                 perLimit: perLimit)
    }

    /// One limit, one zone: ``decide(_:keys:now:)`` for a policy of just `limit`.
    public mutating func decide(_ limit: LimitReq, key: RateLimitKey, dryRun: Bool = false, now: Int64) -> RateLimitDecision {
        decide(LimitReqPolicy(limits: [limit], dryRun: dryRun), keys: [key], now: now)
    }

    /// Charges `requests` requests of `key` to `zone` at `now` without deciding anything, as if
    /// they had been admitted here: requests another replica admitted to a shared zone
    /// (``SharedRateLimiter``). The state becomes the most recently used, and is created as for a
    /// request; when the zone has no room for it even after evicting, the charge is dropped.
    public mutating func absorb(zone: Int, key: RateLimitKey, requests: Int, now: Int64) {
        guard key.isAccountable, requests > 0, let record = state(zone: zone, key: key, now: now) else { return }
        let (excess, elapsed) = excessNow(record, zone: zone, now: now)
        // The first request as usual, the others in the same millisecond: 1000 each. Capped far
        // below overflow (a bucket that full drains for years anyway).
        let others = Int64(min(requests - 1, 1 << 40)) * 1000
        store(min(excess + others, Int64.max / 4), elapsed: elapsed, in: record, zone: zone, now: now)
    }

    // MARK: Deciding around a check

    /// The rejection ``decide(_:keys:now:)`` would answer at `now` (the first limit whose excess
    /// would pass its burst), or nil when it would let the request through; nothing is charged or
    /// created. A rejection makes the states it looked at the most recently used, as nginx's
    /// lookup does (so a key that keeps being rejected is not the first a full zone forgets); a
    /// look that lets the request through changes nothing. With ``charge(_:keys:now:)``, for
    /// requests that are only counted when a check that takes time refuses them (the proxy's
    /// API-key check): a key over its limit is refused before the check, as
    /// ``decide(_:keys:now:)`` would, and one under it is charged only after the check refused it.
    public mutating func rejection(_ policy: LimitReqPolicy, keys: [RateLimitKey], now: Int64) -> RateLimitDecision? {
        precondition(keys.count == policy.limits.count, "\(keys.count) keys for \(policy.limits.count) limits")
        for (position, limit) in policy.limits.enumerated() where keys[position].isAccountable {
            guard let record = tables[limit.zone].find(keys[position]) else { continue }
            let excess = excessNow(record, zone: limit.zone, now: now).excess
            if excess > limit.burstMilli {
                // As nginx's lookups, in order: each looked-at state, the rejecting one last.
                for earlier in 0..<position where keys[earlier].isAccountable {
                    let zone = policy.limits[earlier].zone
                    if let found = tables[zone].find(keys[earlier]) { tables[zone].touch(found) }
                }
                tables[limit.zone].touch(record)
                return RateLimitDecision(outcome: .rejected(status: limit.status), dryRun: policy.dryRun, limit: position, excess: excess,
                                         perLimit: .init(.rejected, limit: position))
            }
        }
        return nil
    }

    /// Charges a request already let through (``rejection(_:keys:now:)`` did not refuse it) to
    /// every limit, beyond its burst if need be: requests that passed that look together, before
    /// any of them was charged, all count, so the key stays refused until the bucket has drained
    /// them all. The decision: rejected by the first limit this charge took past its burst (the
    /// request went over the limit), else passed or delayed as ``decide(_:keys:now:)`` would
    /// have decided it; unlimited when no limit applied. A zone without room for a new state
    /// even after evicting does not count the request. Per limit, every limit charged rejected
    /// (taken past its burst), delayed or passed it.
    public mutating func charge(_ policy: LimitReqPolicy, keys: [RateLimitKey], now: Int64) -> RateLimitDecision {
        precondition(keys.count == policy.limits.count, "\(keys.count) keys for \(policy.limits.count) limits")
        var applied = false
        var over: (limit: Int, excess: Int64)?
        var longest: (delay: Int64, limit: Int, excess: Int64) = (0, 0, 0)
        var perLimit = RateLimitDecision.PerLimit()
        for (position, limit) in policy.limits.enumerated() where keys[position].isAccountable {
            guard let record = state(zone: limit.zone, key: keys[position], now: now) else { continue }
            applied = true
            let (excess, elapsed) = excessNow(record, zone: limit.zone, now: now)
            store(min(excess, Int64.max / 4), elapsed: elapsed, in: record, zone: limit.zone, now: now)
            if excess > limit.burstMilli {
                if over == nil { over = (position, excess) }
                perLimit.set(.rejected, limit: position)
                continue
            }
            let delay = LimitReqArithmetic.delay(excess: excess, threshold: limit.delay.thresholdMilli, rate: rate(limit))
            if delay > 0, delay >= longest.delay { longest = (delay, position, excess) }
            perLimit.set(delay > 0 ? .delayed : .passed, limit: position)
        }
        guard applied else { return RateLimitDecision(outcome: .unlimited, dryRun: policy.dryRun) }
        if let over {
            let status = policy.limits[over.limit].status
            return RateLimitDecision(outcome: .rejected(status: status), dryRun: policy.dryRun, limit: over.limit, excess: over.excess, perLimit: perLimit)
        }
        guard longest.delay > 0 else { return RateLimitDecision(outcome: .passed, dryRun: policy.dryRun, perLimit: perLimit) }
        return RateLimitDecision(outcome: .delayed(milliseconds: longest.delay), dryRun: policy.dryRun, limit: longest.limit, excess: longest.excess,
                                 perLimit: perLimit)
    }

    /// `key`'s state in `zone`, made the most recently used, or created (freeing or evicting as
    /// for a request); nil when the zone has no room for it even after evicting.
    private mutating func state(zone: Int, key: RateLimitKey, now: Int64) -> Int32? {
        if let found = tables[zone].find(key) {
            tables[zone].touch(found)
            return found
        }
        expire(zone: zone, force: false, now: now)
        if !tables[zone].hasRoom(keyLength: key.bytes.count) {
            expire(zone: zone, force: true, now: now)
            guard tables[zone].hasRoom(keyLength: key.bytes.count) else { return nil }
        }
        return tables[zone].insert(key)
    }

    private enum LookUp {
        case charged(excess: Int64)
        case pending(record: Int32)
        case rejected(excess: Int64)
        case exhausted
    }

    private func rate(_ limit: LimitReq) -> Int64 { rates[limit.zone] }

    private mutating func lookUp(_ limit: LimitReq, key: RateLimitKey, charge: Bool, now: Int64) -> LookUp {
        let zone = limit.zone
        if let record = tables[zone].find(key) {
            tables[zone].touch(record)
            let (excess, elapsed) = excessNow(record, zone: zone, now: now)
            if excess > limit.burstMilli { return .rejected(excess: excess) }
            guard charge else { return .pending(record: record) }
            store(excess, elapsed: elapsed, in: record, zone: zone, now: now)
            return .charged(excess: excess)
        }
        expire(zone: zone, force: false, now: now)
        if !tables[zone].hasRoom(keyLength: key.bytes.count) {
            expire(zone: zone, force: true, now: now)
            guard tables[zone].hasRoom(keyLength: key.bytes.count) else { return .exhausted }
        }
        let record = tables[zone].insert(key)
        guard charge else { return .pending(record: record) }
        tables[zone][record].last = now
        return .charged(excess: 0)
    }

    private mutating func charge(_ record: Int32, zone: Int, now: Int64) -> Int64 {
        let (excess, elapsed) = excessNow(record, zone: zone, now: now)
        store(excess, elapsed: elapsed, in: record, zone: zone, now: now)
        return excess
    }

    /// The excess one more request would bring, and the elapsed time it was computed over (a
    /// state never charged counts as drained long ago, as nginx's time 0 does).
    private func excessNow(_ record: Int32, zone: Int, now: Int64) -> (excess: Int64, elapsed: Int64) {
        let state = tables[zone][record]
        let elapsed = state.last == LimitReqStateTable.neverCharged
            ? Int64.max : LimitReqArithmetic.elapsed(now: now, last: state.last)
        return (LimitReqArithmetic.excess(stored: state.excess, rate: rates[zone], elapsed: elapsed), elapsed)
    }

    private mutating func store(_ excess: Int64, elapsed: Int64, in record: Int32, zone: Int, now: Int64) {
        tables[zone][record].excess = excess
        if elapsed != 0 { tables[zone][record].last = now }
    }

    /// Frees drained states from the least recently used end: up to two, or with `force` the
    /// oldest state whatever its excess and then up to two drained ones.
    private mutating func expire(zone: Int, force: Bool, now: Int64) {
        var examined = force ? 0 : 1
        let rate = rates[zone]
        while examined < 3 {
            let oldest = tables[zone].oldest
            guard oldest != LimitReqStateTable.none else { return }
            let mustBeDrained = examined != 0
            examined += 1
            if mustBeDrained {
                let state = tables[zone][oldest]
                guard LimitReqArithmetic.isDrained(stored: state.excess, last: state.last, rate: rate, now: now) else { return }
            }
            tables[zone].remove(oldest)
        }
    }
}

// MARK: - Inspection

extension RateLimiter {
    /// A key's state in a zone, as stored (not advanced to any time).
    public struct StoredState: Hashable, Sendable {
        /// Thousandths of a request.
        public let excess: Int64
        /// When it was last charged; `nil` when created for a request another limit rejected.
        public let lastCharged: Int64?

        public init(excess: Int64, lastCharged: Int64?) {
            self.excess = excess
            self.lastCharged = lastCharged
        }
    }

    /// States kept in `zone`.
    public func stateCount(zone: Int) -> Int { tables[zone].count }

    /// Bytes `zone`'s states are charged (nginx's slab sizes); never more than its budget.
    public func usedBytes(zone: Int) -> Int { tables[zone].usedBytes }

    /// `key`'s stored state in `zone`, without making it recently used.
    public func storedState(zone: Int, key: RateLimitKey) -> StoredState? {
        guard let record = tables[zone].find(key) else { return nil }
        let state = tables[zone][record]
        return StoredState(excess: state.excess, lastCharged: state.last == LimitReqStateTable.neverCharged ? nil : state.last)
    }

    /// `zone`'s keys from the least to the most recently used (O(n); for tests and diagnostics).
    public func keysByRecency(zone: Int) -> [RateLimitKey] {
        var keys: [RateLimitKey] = []
        var record = tables[zone].oldest
        while record != LimitReqStateTable.none {
            keys.append(tables[zone].key(of: record))
            record = tables[zone][record].newer
        }
        return keys
    }

    /// Bytes of memory `zone`'s table holds right now: records, index and long keys, counting
    /// array capacity (for the memory benchmark).
    public func allocatedBytes(zone: Int) -> Int { tables[zone].allocatedBytes }
}
