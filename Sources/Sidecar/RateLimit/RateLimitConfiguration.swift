import DiscoCore
import RateLimitCore

// MARK: - RateLimitConfiguration

/// The proxy's rate limiting: zones, and the limits applied to every proxied request (like the
/// `limit_req` directives of one nginx location). Built from `-limit-req` flags, from the JSON
/// form in `-proxy-config`, or both (``merging(_:)``).
///
/// The JSON form uses nginx's directive names:
///
///     {
///       "limit_req_zone": [
///         {"name": "per_client", "key": "addr", "rate": "10r/s", "size": "10m"},
///         {"name": "per_app", "key": "app_id", "rate": "600r/m"}
///       ],
///       "limit_req": [
///         {"zone": "per_client", "burst": 20, "nodelay": true},
///         {"zone": "per_app", "burst": 50, "delay": 10}
///       ],
///       "limit_req_status": 429,
///       "limit_req_dry_run": false
///     }
public struct RateLimitConfiguration: Hashable, Sendable {
    /// The JSON fields this configuration reads from the object that holds it.
    public static let fields = ["limit_req_zone", "limit_req", "limit_req_status", "limit_req_dry_run"]

    public var zones: [LimitReqZone]
    /// The limits applied to every request; their `zone` indexes ``zones``.
    public var policy: LimitReqPolicy

    public init(zones: [LimitReqZone] = [], policy: LimitReqPolicy = LimitReqPolicy(limits: [])) {
        self.zones = zones
        self.policy = policy
    }

    /// A limiter with these zones, all empty.
    public func makeLimiter() -> RateLimiter { RateLimiter(zones: zones) }

    /// The key source of each limit of ``policy``, in order: what the proxy extracts per request.
    public var keySources: [RateLimitKeySource] { policy.limits.map { zones[$0.zone].key } }

    // MARK: From flags

    /// Combines `-limit-req` flags, in order: unnamed zones are called `limit_req_1`,
    /// `limit_req_2`, … by position; names must differ; `dry-run` must be on all flags or none
    /// (it applies to all limits at once, as nginx's `limit_req_dry_run`).
    public init(flags specs: [LimitReqSpec]) throws(FlagValueError) {
        var zones: [LimitReqZone] = []
        var limits: [LimitReq] = []
        for (position, spec) in specs.enumerated() {
            let name = spec.zoneName ?? "limit_req_\(position + 1)"
            if zones.contains(where: { $0.name == name }) {
                throw FlagValueError("zone=\(name): two -limit-req flags name the same zone; give each its own zone=NAME")
            }
            zones.append(LimitReqZone(name: name, key: spec.key, rate: spec.rate, size: spec.size))
            limits.append(LimitReq(zone: position, burst: spec.burst, delay: spec.delay, status: spec.status))
        }
        let dryRuns = Set(specs.map(\.dryRun))
        if dryRuns.count > 1 {
            throw FlagValueError("dry-run: given on some -limit-req flags but not all; dry run applies to every limit at once (as nginx's limit_req_dry_run), so add it to all of them or to none")
        }
        self.init(zones: zones, policy: LimitReqPolicy(limits: limits, dryRun: dryRuns.contains(true)))
    }

    // MARK: Combining

    /// This configuration's zones and limits followed by `other`'s; zone names must differ, and
    /// both must agree on dry run unless one has no limits.
    public func merging(_ other: RateLimitConfiguration) throws(ConfigError) -> RateLimitConfiguration {
        for zone in other.zones where zones.contains(where: { $0.name == zone.name }) {
            throw ConfigError(code: .invalidValue, field: "limit_req_zone",
                              message: "rate-limit zone \(zone.name.debugDescription) is defined twice (by -limit-req and -proxy-config); rename one")
        }
        if !policy.limits.isEmpty, !other.policy.limits.isEmpty, policy.dryRun != other.policy.dryRun {
            throw ConfigError(code: .invalidValue, field: "limit_req_dry_run",
                              message: "limit_req_dry_run is \(other.policy.dryRun) in -proxy-config but the -limit-req flags say \(policy.dryRun); dry run applies to all limits at once")
        }
        let shifted = other.policy.limits.map { limit -> LimitReq in
            var limit = limit
            limit.zone += zones.count
            return limit
        }
        return RateLimitConfiguration(
            zones: zones + other.zones,
            policy: LimitReqPolicy(limits: policy.limits + shifted, dryRun: policy.limits.isEmpty ? other.policy.dryRun : policy.dryRun))
    }
}
