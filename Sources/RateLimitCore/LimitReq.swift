// MARK: - LimitReq

/// One limit applied to requests (nginx's `limit_req zone=NAME burst=N [nodelay | delay=N]`).
public struct LimitReq: Hashable, Sendable {
    /// When requests beyond the rate but within the burst are forwarded.
    public enum Delay: Hashable, Sendable, CustomStringConvertible {
        /// Every excess request waits until the rate allows it (nginx's default): forwarded
        /// requests are paced at the zone's rate.
        case paced
        /// The whole burst is forwarded at once (`nodelay`); the bucket is still charged.
        case nodelay
        /// The first N excess requests are forwarded at once, later ones paced (`delay=N`).
        case after(Int)

        /// The excess, in thousandths of a request, up to which no request waits.
        var thresholdMilli: Int64 {
            switch self {
            case .paced: 0
            case .nodelay: Int64.max
            case .after(let requests): Int64(requests) * 1000
            }
        }

        /// As written: empty for ``paced``, `nodelay`, `delay=N`.
        public var description: String {
            switch self {
            case .paced: ""
            case .nodelay: "nodelay"
            case .after(let requests): "delay=\(requests)"
            }
        }
    }

    /// The largest burst or delay accepted (keeps every product in 64 bits).
    public static let maximumBurst = 1_000_000_000
    /// nginx's default `limit_req_status`: 503 Service Unavailable.
    public static let defaultStatus = 503
    /// The statuses nginx accepts for `limit_req_status`.
    public static let statusRange = 400...599

    /// Index of the zone in the ``RateLimiter``'s zones.
    public var zone: Int
    /// Requests allowed beyond the rate (nginx's `burst`, 0 when absent).
    public var burst: Int
    public var delay: Delay
    /// The HTTP status of a rejection (nginx's `limit_req_status`).
    public var status: Int

    public init(zone: Int, burst: Int = 0, delay: Delay = .paced, status: Int = LimitReq.defaultStatus) {
        self.zone = zone
        self.burst = burst
        self.delay = delay
        self.status = status
    }

    /// nginx's `limit->burst`: the excess, in thousandths, above which requests are rejected.
    var burstMilli: Int64 { Int64(burst) * 1000 }
}

// MARK: - LimitReqPolicy

/// The limits applied together to one request, like the `limit_req` directives of one nginx
/// location, and whether they only report (`limit_req_dry_run`).
///
/// Limits are checked in order; the first that rejects decides, and none of the others is
/// charged. When none rejects, every one is charged and the longest delay applies.
public struct LimitReqPolicy: Hashable, Sendable {
    public var limits: [LimitReq]
    /// Decide and charge as usual, but forward every request at once: decisions are only reported.
    public var dryRun: Bool

    public init(limits: [LimitReq], dryRun: Bool = false) {
        self.limits = limits
        self.dryRun = dryRun
    }
}
