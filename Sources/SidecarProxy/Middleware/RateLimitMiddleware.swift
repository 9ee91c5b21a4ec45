import DiscoCore
import DiscoNet
import RateLimitCore
import Sidecar
import Synchronization

// MARK: - Rate limiting

/// nginx `limit_req` in front of the proxy: each request's keys are taken from it (the client's
/// binary address, the `app_id` of a checked API key, another header), the pure ``RateLimiter`` decides, and
/// this middleware acts: forward, hold the request for the delay (a sleeping task, so the event
/// loop goes on serving others), or answer the rejection status with a JSON error. In dry run
/// every request is forwarded at once and decisions are only counted and logged.
///
/// It runs before the ``APIKeyMiddleware``, as nginx runs `limit_req` (preaccess) before access
/// checks: a request refused for its key has been charged by then, so a client guessing keys is
/// limited by its address, and one the limiter refuses costs no key check. Only `key=app_id`
/// limits must wait for the check on a request that needs a key (the header proves nothing
/// before it): they run around the key check (``aroundAPIKeys(_:)``), which charges an accepted
/// request to its application and a refused one to its client's address, never to the
/// application it named. Such a request is decided in two steps, each with nginx's rules for the
/// limits it holds (the address and header limits, then the `app_id` ones). A request that needs
/// no key is decided once, here, by every limit.
///
/// Shared zones (``RateLimitConfiguration/sharedZones``) run through ``SharedRateLimiter``: the
/// requests charged to them are counted for ``tick()``, which ``SharedZoneExchange`` calls every
/// exchange interval and sends to the other sidecars, whose counts come back in ``receive(_:)``.
public final class RateLimitMiddleware: HTTPMiddleware {
    private let configuration: RateLimitConfiguration
    /// Every limit (a request that needs no key), the limits decided before the key check and
    /// those decided after it (a request that needs one).
    private let all: Stage
    private let beforeKeys: Stage
    let afterKeys: Stage
    /// Which requests carry an API key the ``APIKeyMiddleware`` checks, behind this middleware and
    /// inside ``aroundAPIKeys(_:)`` (nil: none): only theirs is an `app_id` a `key=app_id` zone may count by.
    let apiKeys: APIKeySettings?
    /// Whether a zone keys requests by a header (not only by the client's address).
    let keysByHeader: Bool
    /// Checks a request's hop claim (the proxy's check): a proven hop was limited at the sidecar
    /// its client reached, so it is not charged again here (nil: hops are charged).
    let provenHop: (@Sendable (HTTPStreamingRequest) -> Bool)?
    let limiter: Mutex<SharedRateLimiter>
    let metrics: ProxyMetrics
    private let logger: Logger
    let epoch = ContinuousClock.now

    /// `apiKeys`: the settings of the ``APIKeyMiddleware`` that runs after this one, wrapped by
    /// ``aroundAPIKeys(_:)`` (nil when API keys are off). `provenHop`: whether a request carrying the
    /// hop header is another sidecar's proven hop (``ReverseProxy``'s check, which then takes
    /// this verdict).
    public init(configuration: RateLimitConfiguration, apiKeys: APIKeySettings? = nil, metrics: ProxyMetrics, logger: Logger,
                provenHop: (@Sendable (HTTPStreamingRequest) -> Bool)? = nil) {
        self.configuration = configuration
        self.provenHop = provenHop
        self.apiKeys = apiKeys.flatMap { $0.enabled ? $0 : nil }
        let policy = configuration.policy
        all = Stage(policy: policy, positions: Array(policy.limits.indices), zones: configuration.zones)
        let byAppID = policy.limits.indices.filter { configuration.zones[policy.limits[$0].zone].key == .appID }
        beforeKeys = Stage(policy: policy, positions: policy.limits.indices.filter { !byAppID.contains($0) }, zones: configuration.zones)
        afterKeys = Stage(policy: policy, positions: byAppID, zones: configuration.zones)
        keysByHeader = configuration.keySources.contains { $0 != .address }
        limiter = Mutex(SharedRateLimiter(zones: configuration.zones, sharedZones: configuration.sharedZones,
                                          exchangeInterval: configuration.shareIntervalMilliseconds))
        self.metrics = metrics
        self.logger = logger
    }

    /// Whether there is anything to limit.
    public var isActive: Bool { !configuration.policy.limits.isEmpty }

    // MARK: Shared zones

    /// Time passed: the counts to send the other sidecars now (nil when it is not time or none
    /// were charged), and how long until the next call is due.
    public func tick() -> (counts: RateLimitCounts?, next: Duration, droppedRequests: Int) {
        let now = Self.milliseconds(ContinuousClock.now - epoch)
        return limiter.withLock { limiter in
            var counts: RateLimitCounts?
            var next = now + limiter.exchangeInterval
            for effect in limiter.tick(now: now) {
                switch effect {
                case .send(let sent): counts = sent
                case .tick(let at): next = at
                }
            }
            return (counts, .milliseconds(max(1, next - now)), limiter.droppedRequests)
        }
    }

    /// Another sidecar's counts (zones as this configuration's indexes): charged here.
    public func receive(_ counts: RateLimitCounts) {
        let now = Self.milliseconds(ContinuousClock.now - epoch)
        limiter.withLock { $0.receive(counts, now: now) }
    }

    public func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        try await handle(request, next: next, afterKeys: false)
    }

    func handle(_ request: HTTPStreamingRequest, next: HTTPResponder, afterKeys: Bool) async throws -> HTTPResponse {
        // A write another sidecar forwards here was limited there, by its own client: charged
        // again here it would count twice, and by that sidecar's address, one bucket for all of
        // its clients. Only a proven hop passes; a claimed one is limited as a client's request.
        // (The proxy checks a proof once per request: after the key check the verdict made
        // before it is reused.)
        guard let provenHop, request.headers[RoutingDecision.hopHeader] != nil else {
            return try await limit(request, next: next, afterKeys: afterKeys)
        }
        let proven = provenHop(request)
        return try await ReverseProxy.$checkedHop.withValue(proven) {
            proven ? try await next(request) : try await limit(request, next: next, afterKeys: afterKeys)
        }
    }

    private func limit(_ request: HTTPStreamingRequest, next: HTTPResponder, afterKeys: Bool) async throws -> HTTPResponse {
        let stage = stage(method: request.method, afterKeys: afterKeys)
        switch verdict(stage, method: request.method, path: request.path, headers: request.headers, remoteAddress: request.remoteAddress) {
        case .forward:
            return try await next(request)
        case .forwardAfter(let delay):
            do {
                try await Task.sleep(for: delay)
            } catch {
                // Cancelled: the client left (the server ends its request at once), or the
                // server is stopping.
                if await request.clientHasLeft() { return metrics.answeredInFront(request, Self.clientLeft()) }
                throw error
            }
            if await request.clientHasLeft() { return metrics.answeredInFront(request, Self.clientLeft()) }
            return try await next(request)
        case .reject(let response):
            return metrics.answeredInFront(request, response)
        }
    }

    /// What the limits say about one request.
    public enum Verdict: Sendable {
        /// Pass it on now.
        case forward
        /// Pass it on after this delay (nginx's `delay`, or no `nodelay`).
        case forwardAfter(Duration)
        /// Answer this instead (the rejection status, as a JSON error).
        case reject(HTTPResponse)
    }

    /// Decides for one request before its API key is checked (charging it to its zones, counting
    /// and logging the decision): the middleware's decision, also taken by the proxy's inline
    /// path. A request that needs no key is decided by every limit; one that needs a key by all
    /// but the `key=app_id` limits (``aroundAPIKeys(_:)`` decides those).
    public func verdict(method: String, path: String, headers: HTTPHeaders, remoteAddress: SocketAddress?) -> Verdict {
        verdict(stage(method: method, afterKeys: false), method: method, path: path, headers: headers, remoteAddress: remoteAddress)
    }

    /// The limits that decide `method` before the key check, or after it.
    private func stage(method: String, afterKeys: Bool) -> Stage {
        guard let apiKeys, apiKeys.requiresKey(method: method) else { return afterKeys ? .none : all }
        return afterKeys ? self.afterKeys : beforeKeys
    }

    private func verdict(_ stage: Stage, method: String, path: String, headers: HTTPHeaders, remoteAddress: SocketAddress?) -> Verdict {
        guard !stage.isEmpty else { return .forward }
        let keys = stage.sources.map { Self.key($0, headers: headers, remoteAddress: remoteAddress, method: method, apiKeys: apiKeys) }
        let now = Self.milliseconds(ContinuousClock.now - epoch)
        let decision = limiter.withLock { $0.decide(stage.policy, keys: keys, now: now) }
        record(decision, stage: stage, method: method, path: path, remoteAddress: remoteAddress)
        switch decision.action {
        case .forward:
            return .forward
        case .forwardAfter(let milliseconds):
            return .forwardAfter(.milliseconds(milliseconds))
        case .reject(let status):
            return .reject(Self.rejection(status, zone: decision.limit.map { stage.zoneNames[$0] } ?? ""))
        }
    }

    /// The answer to a request a limit of `zone` rejects.
    static func rejection(_ status: Int, zone: String) -> HTTPResponse {
        ProxyErrorResponse.make(status, "rate limit exceeded in zone \(zone.debugDescription); slow down and retry later",
                                fields: [("zone", zone)])
    }

    /// Counts `decision` under each of the stage's zones for its own part
    /// (``RateLimitDecision/perLimit``), and logs what a dry run would have done and rejections.
    func record(_ decision: RateLimitDecision, stage: Stage, method: String, path: String, remoteAddress: SocketAddress?) {
        guard decision.outcome != .unlimited else { return }
        metrics.rateLimitDecision(decision, zones: stage.zoneNames)
        // Passed decisions name no limit: nothing to log.
        guard let limit = decision.limit else { return }
        let rejected = if case .rejected = decision.outcome { true } else { false }
        guard decision.dryRun || rejected else { return }
        let zone = stage.zoneNames[limit]
        if decision.zoneExhausted {
            // nginx logs this apart from a client over its rate, at `alert`: "could not allocate node".
            logger.warning("rate limit zone \(zone.debugDescription) is full: no room for a new client's state even after forgetting "
                + "the least recently used one; \(decision.dryRun ? "would have rejected" : "rejected") \(method) \(path) "
                + "(a larger size= holds more clients)",
                metadata: ["zone": .string(zone), "decision": .string(decision.description), "client": .string(remoteAddress?.host ?? "unknown")])
            return
        }
        if decision.dryRun {
            logger.info("rate limit (dry run) would have \(rejected ? "rejected" : "delayed") \(method) \(path)",
                        metadata: ["zone": .string(zone), "decision": .string(decision.description),
                                   "client": .string(remoteAddress?.host ?? "unknown")])
        } else {
            logger.debug("rate limit rejected \(method) \(path)",
                         metadata: ["zone": .string(zone), "decision": .string(decision.description)])
        }
    }

    /// The answer (which no one reads) to a delayed request whose client left while it waited:
    /// it is not forwarded, as nginx ends it (499) when the client closes during the delay.
    static func clientLeft() -> HTTPResponse {
        ProxyErrorResponse.make(499, "the client closed the connection while its request was delayed by a rate limit")
    }

    /// A request's key for one zone: `$binary_remote_addr`, `$http_app_id`, `$http_<name>`.
    /// The `app_id` counts only when `apiKeys` has had its key checked (the method needs one):
    /// otherwise anyone could send another application's id, or a new one each time. Such a
    /// request counts by its client's address instead, marked with a leading zero byte so that no
    /// address shares a bucket with an application (an `app_id` is visible ASCII).
    static func key(_ source: RateLimitKeySource, headers: HTTPHeaders, remoteAddress: SocketAddress?, method: String,
                    apiKeys: APIKeySettings?) -> RateLimitKey {
        switch source {
        case .address:
            return RateLimitKey(remoteAddress?.addressBytes ?? [])
        case .appID:
            guard let apiKeys, apiKeys.requiresKey(method: method) else {
                return RateLimitKey(remoteAddress.map { [0] + $0.addressBytes } ?? [])
            }
            return RateLimitKey(headers[APIKeySettings.appIDHeader] ?? "")
        case .header(let name):
            return RateLimitKey(headers[name] ?? "")
        }
    }

    /// Some of the policy's limits, decided together with nginx's rules: their own policy (same
    /// dry run), each limit's key source and zone name.
    struct Stage: Sendable {
        let policy: LimitReqPolicy
        let sources: [RateLimitKeySource]
        let zoneNames: [String]

        static let none = Stage(policy: LimitReqPolicy(limits: []), sources: [], zoneNames: [])

        private init(policy: LimitReqPolicy, sources: [RateLimitKeySource], zoneNames: [String]) {
            self.policy = policy
            self.sources = sources
            self.zoneNames = zoneNames
        }

        /// The limits of `policy` at `positions`, in order.
        init(policy: LimitReqPolicy, positions: [Int], zones: [LimitReqZone]) {
            let limits = positions.map { policy.limits[$0] }
            self.init(policy: LimitReqPolicy(limits: limits, dryRun: policy.dryRun), sources: limits.map { zones[$0.zone].key },
                      zoneNames: limits.map { zones[$0.zone].name })
        }

        var isEmpty: Bool { policy.limits.isEmpty }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
