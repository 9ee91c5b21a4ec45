// MARK: - RateLimitCounts

/// Requests one replica charged to shared zones since its last exchange: what it sends the
/// others, which charge them to their own buckets.
public struct RateLimitCounts: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        /// The zone's index (every replica has the same zones in the same order).
        public var zone: Int
        public var key: RateLimitKey
        public var requests: Int

        public init(zone: Int, key: RateLimitKey, requests: Int) {
            self.zone = zone
            self.key = key
            self.requests = requests
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry] = []) {
        self.entries = entries
    }
}

// MARK: - SharedRateLimiter

/// One replica's view of zones shared by a cluster (the sidecar's "beyond nginx" zone): every
/// replica runs the zone's full rate and burst with its own ``RateLimiter``, counts the requests
/// it charges, and every `exchangeInterval` ms hands those counts to the others, each of which
/// charges them to its own bucket as if the requests had come to it. Pure, like the limiter:
/// the exchange is an effect (``Effect/send(_:)``) and an input (``receive(_:now:)``); the shell
/// carries counts over the cluster's gossip and calls ``tick(now:)`` when asked.
///
/// Error bound: a replica cannot see what the others admitted in the last `G + d` ms (G the
/// exchange interval, d the longest delivery time), and each of them admits at most
/// `1 + burst + rate × (G + d)` requests of a key in that time. So over any window of T ms the
/// cluster admits at most
///
///     (1 + burst + rate × T) + (N − 1) × (1 + burst + rate × (G + d))
///
/// requests of one key (rate in requests per ms), where one replica alone admits the first term.
/// The excess is bounded and does not grow with T. Counts that are lost (a dropped message, or
/// more keys than ``maximumPendingKeys`` or key bytes than ``maximumPendingKeyBytes`` in one
/// interval) are never charged elsewhere and add
/// to it; ``droppedRequests`` counts the latter. `disco-sim ratelimit --shared` measures the
/// bound on random traces.
public struct SharedRateLimiter: Sendable {
    public enum Effect: Hashable, Sendable {
        /// Deliver these counts to every other replica (each calls ``receive(_:now:)``).
        case send(RateLimitCounts)
        /// Call ``tick(now:)`` at this time (ms).
        case tick(at: Int64)
    }

    public private(set) var limiter: RateLimiter
    /// Indexes of the zones shared with the cluster; the others stay local.
    public let sharedZones: Set<Int>
    /// Milliseconds between exchanges (G).
    public let exchangeInterval: Int64
    /// The most distinct keys counted between two exchanges; further keys' requests are dropped.
    public let maximumPendingKeys: Int
    /// The most bytes of those keys together (a `key=header:` zone counts header values of up to
    /// several KiB each): further keys' requests are dropped, so memory stays bounded.
    public let maximumPendingKeyBytes: Int
    /// Requests charged here whose counts could not be kept for the next exchange.
    public private(set) var droppedRequests = 0

    private var pending: [PendingKey: Int] = [:]
    private var pendingKeyBytes = 0
    private var nextExchange: Int64?

    struct PendingKey: Hashable, Sendable {
        var zone: Int
        var key: RateLimitKey
    }

    public init(zones: [LimitReqZone], sharedZones: Set<Int>, exchangeInterval: Int64, maximumPendingKeys: Int = 65536,
                maximumPendingKeyBytes: Int = 64 << 20) {
        precondition(exchangeInterval > 0, "exchange interval must be positive")
        self.limiter = RateLimiter(zones: zones)
        self.sharedZones = sharedZones
        self.exchangeInterval = exchangeInterval
        self.maximumPendingKeys = maximumPendingKeys
        self.maximumPendingKeyBytes = maximumPendingKeyBytes
    }

    // MARK: Inputs

    /// Decides a request like ``RateLimiter/decide(_:keys:now:)`` and counts it for the shared
    /// zones it was charged to.
    public mutating func decide(_ policy: LimitReqPolicy, keys: [RateLimitKey], now: Int64) -> RateLimitDecision {
        let decision = limiter.decide(policy, keys: keys, now: now)
        switch decision.outcome {
        case .passed, .delayed:
            guard !sharedZones.isEmpty else { break }
            for (index, limit) in policy.limits.enumerated() where sharedZones.contains(limit.zone) && keys[index].isAccountable {
                count(PendingKey(zone: limit.zone, key: keys[index]))
            }
        case .rejected, .unlimited:
            break
        }
        return decision
    }

    /// ``RateLimiter/rejection(_:keys:now:)``: whether a request would be rejected now, charging nothing.
    public mutating func rejection(_ policy: LimitReqPolicy, keys: [RateLimitKey], now: Int64) -> RateLimitDecision? {
        limiter.rejection(policy, keys: keys, now: now)
    }

    /// Charges a request like ``RateLimiter/charge(_:keys:now:)`` (beyond the burst if need be)
    /// and counts it for the shared zones that charged it (not one that had no room for its key).
    public mutating func charge(_ policy: LimitReqPolicy, keys: [RateLimitKey], now: Int64) -> RateLimitDecision {
        let decision = limiter.charge(policy, keys: keys, now: now)
        if !sharedZones.isEmpty, decision.outcome != .unlimited {
            for (index, limit) in policy.limits.enumerated() where sharedZones.contains(limit.zone) && keys[index].isAccountable {
                // Beyond what a decision reports, every limit with a key counts.
                guard index >= RateLimitDecision.PerLimit.capacity || decision.perLimit[index] != nil else { continue }
                count(PendingKey(zone: limit.zone, key: keys[index]))
            }
        }
        return decision
    }

    /// Time passed: at each exchange interval, the counts to send (when there are any) and the
    /// next tick. The first call starts the schedule.
    public mutating func tick(now: Int64) -> [Effect] {
        guard let due = nextExchange else {
            nextExchange = now + exchangeInterval
            return [.tick(at: now + exchangeInterval)]
        }
        guard now >= due else { return [.tick(at: due)] }
        nextExchange = now + exchangeInterval
        var effects: [Effect] = []
        if !pending.isEmpty {
            let entries = pending.map { RateLimitCounts.Entry(zone: $0.key.zone, key: $0.key.key, requests: $0.value) }
            // In a fixed order, so that runs replay exactly whatever the dictionary's order.
            let sorted = entries.sorted { $0.zone != $1.zone ? $0.zone < $1.zone : $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }
            effects.append(.send(RateLimitCounts(entries: sorted)))
            pending.removeAll(keepingCapacity: true)
            pendingKeyBytes = 0
        }
        effects.append(.tick(at: now + exchangeInterval))
        return effects
    }

    /// Another replica's counts arrived: charge them here.
    public mutating func receive(_ counts: RateLimitCounts, now: Int64) {
        for entry in counts.entries where sharedZones.contains(entry.zone) && entry.requests > 0 {
            limiter.absorb(zone: entry.zone, key: entry.key, requests: entry.requests, now: now)
        }
    }

    private mutating func count(_ key: PendingKey) {
        if let requests = pending[key] {
            pending[key] = requests + 1
        } else if pending.count < maximumPendingKeys, pendingKeyBytes + key.key.bytes.count <= maximumPendingKeyBytes {
            pending[key] = 1
            pendingKeyBytes += key.key.bytes.count
        } else {
            droppedRequests += 1
        }
    }
}
