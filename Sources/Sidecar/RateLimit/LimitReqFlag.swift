import DiscoCore
import RateLimitCore

// MARK: - LimitReqSpec

/// One `-limit-req` flag: a zone and the limit applied with it, in nginx's words.
///
///     -limit-req 'rate=10r/s burst=5 nodelay'
///     -limit-req 'zone=per_app key=app_id rate=600r/m burst=20 delay=10 status=429 size=1m'
///     -limit-req 'key=header:x-tenant rate=50r/s dry-run'
///
/// Parameters, separated by spaces, each at most once:
///
/// | parameter | meaning | default |
/// |---|---|---|
/// | `rate=Nr/s`, `rate=Nr/m` | the zone's rate (required) | |
/// | `burst=N` | requests beyond the rate that are let through (delayed) | 0 |
/// | `nodelay` / `delay=N` | forward the whole burst at once / the first N of it | every excess request waits |
/// | `status=N` | status of rejections, 400–599 | 503 |
/// | `key=addr`, `key=app_id`, `key=header:NAME` | what requests are counted by (`app_id`: of a checked API key; else the client address) | `addr` |
/// | `zone=NAME` | the zone's name (logs, metrics, `-proxy-config` routes) | `limit_req_<n>` |
/// | `size=10m` | the zone's memory; the least recently used clients are forgotten beyond it | `10m` |
/// | `dry-run` | decide and count, but never delay or reject | off |
/// | `shared` | the zone holds across the cluster: sidecars exchange their counts (``RateLimitConfiguration/sharedZones``) | off |
public struct LimitReqSpec: Hashable, Sendable {
    /// The parameters, as written.
    public static let parameters = ["rate=", "burst=", "nodelay", "delay=", "status=", "key=", "zone=", "size=", "dry-run", "shared"]

    public var rate: LimitRate
    public var burst: Int
    public var delay: LimitReq.Delay
    public var status: Int
    public var key: RateLimitKeySource
    /// `nil` when `zone=` was not given (the configuration names it by position).
    public var zoneName: String?
    public var size: Int
    public var dryRun: Bool
    /// The zone is shared by the cluster's sidecars.
    public var shared: Bool

    public init(rate: LimitRate, burst: Int = 0, delay: LimitReq.Delay = .paced, status: Int = LimitReq.defaultStatus,
                key: RateLimitKeySource = .address, zoneName: String? = nil, size: Int = LimitReqZone.defaultSize, dryRun: Bool = false,
                shared: Bool = false) {
        self.rate = rate
        self.burst = burst
        self.delay = delay
        self.status = status
        self.key = key
        self.zoneName = zoneName
        self.size = size
        self.dryRun = dryRun
        self.shared = shared
    }

    // MARK: Parsing

    /// Parses one flag value; the error names the parameter and what would be valid, such as
    /// `rate=10r/h: unit must be r/s or r/m`.
    public static func parse(_ text: String) throws(FlagValueError) -> LimitReqSpec {
        let tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard !tokens.isEmpty else {
            throw FlagValueError("expected limit parameters such as 'rate=10r/s burst=5 nodelay'")
        }
        var seen: [String: String] = [:]
        var rate: LimitRate?
        var spec = LimitReqSpec(rate: LimitRate(requests: 1, per: .perSecond))
        var nodelay = false
        var delayAfter: Int?
        for token in tokens {
            let name = token.firstIndex(of: "=").map { String(token[...$0]) } ?? token
            let value = token.firstIndex(of: "=").map { String(token[token.index(after: $0)...]) } ?? ""
            guard parameters.contains(name) else { throw unknown(token, name: name) }
            if let earlier = seen[name] { throw FlagValueError("\(token): \(name) is given twice (also \(earlier)); give each parameter once") }
            seen[name] = token
            func check<Value>(_ result: Result<Value, LimitReqSyntax.Reason>) throws(FlagValueError) -> Value {
                switch result {
                case .success(let value): return value
                case .failure(let reason): throw FlagValueError("\(token): \(reason.text)")
                }
            }
            switch name {
            case "rate=": rate = try check(LimitReqSyntax.rate(value))
            case "burst=": spec.burst = try check(LimitReqSyntax.count(value, what: "burst", absent: "leave it out for no burst"))
            case "delay=": delayAfter = try check(LimitReqSyntax.count(value, what: "delay", absent: "nodelay forwards the whole burst at once"))
            case "status=": spec.status = try check(LimitReqSyntax.status(value))
            case "key=": spec.key = try check(LimitReqSyntax.key(value))
            case "zone=": spec.zoneName = try check(LimitReqSyntax.zoneName(value))
            case "size=": spec.size = try check(LimitReqSyntax.size(value))
            case "nodelay": nodelay = true
            case "shared": spec.shared = true
            default: spec.dryRun = true  // "dry-run"
            }
        }
        guard let rate else {
            throw FlagValueError("rate= is required, e.g. 'rate=10r/s' (or r/m for slower rates: 'rate=30r/m')")
        }
        spec.rate = rate
        switch (nodelay, delayAfter) {
        case (true, .some(let after)):
            throw FlagValueError("delay=\(after): cannot be combined with nodelay; nodelay forwards the whole burst at once, delay=N only the first N requests of it")
        case (true, nil): spec.delay = .nodelay
        case (false, .some(let after)): spec.delay = .after(after)
        case (false, nil): spec.delay = .paced
        }
        return spec
    }

    private static func unknown(_ token: String, name: String) -> FlagValueError {
        let bare = name.hasSuffix("=") ? String(name.dropLast()) : name
        let names = parameters.map { $0.hasSuffix("=") ? String($0.dropLast()) : $0 }
        var message = "unknown parameter \(token.debugDescription)"
        if let suggestion = EditDistance.suggestion(for: bare, among: names) {
            message += "; did you mean \(parameters[names.firstIndex(of: suggestion) ?? 0])?"
        }
        return FlagValueError(message + " Valid parameters: rate=, burst=, nodelay, delay=, status=, key=, zone=, size=, dry-run, shared")
    }

    // MARK: Writing

    /// The flag value that parses back to this spec, e.g. `rate=10r/s burst=5 nodelay`.
    public var flagText: String {
        var parts = ["rate=\(rate)"]
        if burst > 0 { parts.append("burst=\(burst)") }
        if delay != .paced { parts.append(delay.description) }
        if status != LimitReq.defaultStatus { parts.append("status=\(status)") }
        if key != .address { parts.append("key=\(key)") }
        if let zoneName { parts.append("zone=\(zoneName)") }
        if size != LimitReqZone.defaultSize { parts.append("size=\(size)") }
        if dryRun { parts.append("dry-run") }
        if shared { parts.append("shared") }
        return parts.joined(separator: " ")
    }
}
