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
///       "limit_req_dry_run": false,
///       "limit_req_share_interval": "100ms"
///     }
///
/// A zone with `"shared": true` (or `shared` in `-limit-req`) holds across the cluster: every
/// sidecar runs it at the full rate and burst and sends the others the requests it charged every
/// ``shareInterval`` (``RateLimitCore/SharedRateLimiter``).
public struct RateLimitConfiguration: Hashable, Sendable {
    /// The JSON fields this configuration reads from the object that holds it.
    public static let fields = ["limit_req_zone", "limit_req", "limit_req_status", "limit_req_dry_run", "limit_req_share_interval"]
    /// How often sidecars exchange the counts of shared zones when nothing says otherwise.
    public static let defaultShareInterval = Duration.milliseconds(100)

    public var zones: [LimitReqZone]
    /// The limits applied to every request; their `zone` indexes ``zones``.
    public var policy: LimitReqPolicy
    /// Indexes of ``zones`` shared with the cluster's other sidecars.
    public var sharedZones: Set<Int>
    /// How often shared zones' counts are sent to the other sidecars (G of the error bound);
    /// nil: not set here (``defaultShareInterval`` applies).
    public var shareInterval: Duration?

    public init(zones: [LimitReqZone] = [], policy: LimitReqPolicy = LimitReqPolicy(limits: []), sharedZones: Set<Int> = [],
                shareInterval: Duration? = nil) {
        self.zones = zones
        self.policy = policy
        self.sharedZones = sharedZones
        self.shareInterval = shareInterval
    }

    /// The exchange interval in effect, in milliseconds.
    public var shareIntervalMilliseconds: Int64 {
        let (seconds, attoseconds) = (shareInterval ?? Self.defaultShareInterval).components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// Names of the shared zones, in zone order.
    public var sharedZoneNames: [String] { zones.indices.filter { sharedZones.contains($0) }.map { zones[$0].name } }

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
        var shared: Set<Int> = []
        for (position, spec) in specs.enumerated() {
            if spec.shared { shared.insert(position) }
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
        self.init(zones: zones, policy: LimitReqPolicy(limits: limits, dryRun: dryRuns.contains(true)), sharedZones: shared)
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
            policy: LimitReqPolicy(limits: policy.limits + shifted, dryRun: policy.limits.isEmpty ? other.policy.dryRun : policy.dryRun),
            sharedZones: sharedZones.union(other.sharedZones.map { $0 + zones.count }),
            shareInterval: shareInterval ?? other.shareInterval)
    }
}
