import DiscoSystem
import RateLimitCore
import Sidecar
import Synchronization

// MARK: - Proxy metrics

/// The proxy's counters, safe to update from every loop and to read for `/metrics`.
public final class ProxyMetrics: Sendable {
    /// Upstream latency buckets in seconds (Prometheus's defaults, plus 1 ms and 2.5 ms).
    static let latencyBounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct RequestKey: Hashable { var route: String; var method: String; var status: Int }
    struct DecisionKey: Hashable { var zone: String; var decision: String }

    private struct State {
        var requestCounts = RecentKeyed<RequestKey, Int>()
        var latencyHistograms = RecentKeyed<String, LatencyHistogram>()
        var requests: [RequestKey: Int] { requestCounts.entries }
        var latency: [String: LatencyHistogram] { latencyHistograms.entries }

        mutating func count(_ key: RequestKey) { requestCounts.update(key, initial: 0) { $0 += 1 } }

        mutating func observe(_ upstream: String, seconds: Double) {
            latencyHistograms.update(upstream, initial: LatencyHistogram(bucketCount: ProxyMetrics.latencyBounds.count)) {
                $0.observe(seconds, bounds: ProxyMetrics.latencyBounds)
            }
        }
        var rateLimit: [DecisionKey: Int] = [:]
        var authFailures: [String: Int] = [:]
        var upstreamFailures: [String: Int] = [:]
        var tcpConnections: [String: Int] = [:]
        var tcpRefused: [String: Int] = [:]
        var hops: [String: Int] = [:]
        var exchanges: [ExchangeKey: Int] = [:]
        var sharedDroppedRequests = 0
        var sharedPeers = 0
    }
    struct ExchangeKey: Hashable { var direction: String; var result: String }

    /// What kind of spliced connection a count is about.
    public enum SpliceKind: String, Sendable, CaseIterable {
        case tcp
        case webSocket = "websocket"
    }

    private let state = Mutex(State())
    /// Open TCP pass-through connections.
    let openTCPConnections = Atomic<Int>(0)
    /// Spliced connections closed for idleness.
    private let tcpIdleClosed = Atomic<Int>(0)
    private let webSocketIdleClosed = Atomic<Int>(0)
    private let headViews = Atomic<Int>(0)
    /// The proxy's routes, to name the route of a request answered in front of the proxy
    /// (``answeredInFront(_:_:)``).
    let routes: RouteTable

    /// `routes`: the proxy's route table (requests the middleware answers count under the route
    /// they match; with none, under ``ProxyConfiguration/unroutedLabel``).
    public init(routes: RouteTable = RouteTable([])) {
        self.routes = routes
    }

    // MARK: Recording

    func request(route: String, method: String, status: Int) {
        let method = RetryMethods.isKnown(method) ? method : "other"
        count(RequestKey(route: route, method: method, status: status))
    }

    func count(_ key: RequestKey) {
        state.withLock { $0.count(key) }
    }

    /// A request answered by `upstream` after `seconds`: ``request(route:method:status:)`` and
    /// ``upstreamLatency(_:seconds:)`` under one lock (the inline path's per-request call).
    func proxied(route: String, method: String, status: Int, upstream: String, seconds: Double) {
        let method = RetryMethods.isKnown(method) ? method : "other"
        state.withLock { state in
            state.count(RequestKey(route: route, method: method, status: status))
            state.observe(upstream, seconds: seconds)
        }
    }

    func upstreamLatency(_ upstream: String, seconds: Double) {
        state.withLock { state in
            state.observe(upstream, seconds: seconds)
        }
    }

    /// A request sent upstream from its head in place (``ProxyConfiguration/inlineHeadViews``).
    func headViewForwarded() { headViews.wrappingAdd(1, ordering: .relaxed) }

    /// How many requests went upstream from their head in place, without a request value
    /// being made (a diagnostic: the rest took a parsed request).
    public var headViewRequests: Int { headViews.load(ordering: .relaxed) }

    func upstreamFailure(_ upstream: String) { state.withLock { $0.upstreamFailures[upstream, default: 0] += 1 } }

    /// One request's rate-limit decision, counted under each zone for its own part (`zones[i]`
    /// names the zone of the decision's limit `i`): passed, delayed or rejected, as the zone
    /// charged or rejected it (`zone_full` when it rejected the request for want of room for a
    /// new key's state); nothing under a zone that did neither. One lock for all zones.
    func rateLimitDecision(_ decision: RateLimitDecision, zones: [String]) {
        let perLimit = decision.perLimit
        let dryRun = decision.dryRun
        let full = decision.zoneExhausted ? decision.limit : nil
        guard perLimit.limits != 0 else { return }
        state.withLock { state in
            var remaining = perLimit.limits
            while remaining != 0 {
                let position = remaining.trailingZeroBitCount
                remaining &= remaining &- 1
                guard position < zones.count, let verdict = perLimit[position] else { continue }
                let label = Self.label(verdict, dryRun: dryRun, zoneFull: position == full)
                state.rateLimit[DecisionKey(zone: zones[position], decision: label), default: 0] += 1
            }
        }
    }

    /// The `decision` label: nginx's `$limit_req_status` in lower case (`passed` has no dry-run
    /// variant), as literals so that counting makes no string. A rejection by a zone with no
    /// room for the request's new state (`zoneFull`, nginx's "could not allocate node": its
    /// `$limit_req_status` says `REJECTED` but its log tells it apart) is `zone_full`: a zone too
    /// small for its clients, not a client over its rate.
    static func label(_ verdict: RateLimitDecision.PerLimit.Verdict, dryRun: Bool, zoneFull: Bool = false) -> String {
        switch verdict {
        case .passed: "passed"
        case .delayed: dryRun ? "delayed_dry_run" : "delayed"
        case .rejected where zoneFull: dryRun ? "zone_full_dry_run" : "zone_full"
        case .rejected: dryRun ? "rejected_dry_run" : "rejected"
        }
    }

    func authFailure(_ reason: String) { state.withLock { $0.authFailures[reason, default: 0] += 1 } }

    func tcpConnection(_ listener: String, accepted: Bool) {
        state.withLock { state in
            if accepted { state.tcpConnections[listener, default: 0] += 1 } else { state.tcpRefused[listener, default: 0] += 1 }
        }
    }

    /// A request that claimed to be another sidecar's hop: `proven`, or why it was treated as
    /// a client's (`unproven`, `expired`, `replayed`, `bad_mac`, …).
    func hop(_ result: String) { state.withLock { $0.hops[result, default: 0] += 1 } }

    /// A shared zone's exchange: `sent` (per peer) or `received`, and how it went.
    func exchange(_ direction: String, _ result: String) {
        state.withLock { $0.exchanges[ExchangeKey(direction: direction, result: result), default: 0] += 1 }
    }

    func sharedDroppedRequests(_ total: Int) { state.withLock { $0.sharedDroppedRequests = total } }

    func sharedPeers(_ count: Int) { state.withLock { $0.sharedPeers = count } }

    /// A spliced connection was closed after its idle timeout.
    func spliceIdleClosed(_ kind: SpliceKind) {
        switch kind {
        case .tcp: tcpIdleClosed.wrappingAdd(1, ordering: .relaxed)
        case .webSocket: webSocketIdleClosed.wrappingAdd(1, ordering: .relaxed)
        }
    }

    // MARK: Reading

    /// Spliced connections of `kind` closed after their idle timeout so far.
    public func spliceIdleClosedCount(_ kind: SpliceKind) -> Int {
        switch kind {
        case .tcp: tcpIdleClosed.load(ordering: .relaxed)
        case .webSocket: webSocketIdleClosed.load(ordering: .relaxed)
        }
    }

    /// Hop claims so far with `result` (`proven`, or a reason one was not).
    public func hops(_ result: String) -> Int { state.withLock { $0.hops[result] ?? 0 } }

    /// Shared-zone exchanges so far in `direction` (`sent`, `received`) with `result`.
    public func exchanges(_ direction: String, _ result: String) -> Int {
        state.withLock { $0.exchanges[ExchangeKey(direction: direction, result: result)] ?? 0 }
    }

    /// Exchanges with `upstream` that failed so far (502 or 504).
    public func upstreamFailures(_ upstream: String) -> Int { state.withLock { $0.upstreamFailures[upstream] ?? 0 } }

    /// Requests answered so far with `status` (every route and method).
    public func requests(status: Int) -> Int {
        state.withLock { $0.requests.filter { $0.key.status == status }.values.reduce(0, +) }
    }

    /// Rate-limit decisions so far named `decision` (`passed`, `delayed`, `rejected`, `zone_full`, with `_dry_run`),
    /// summed over the zones (a request counts once in each zone that passed, delayed or rejected it).
    public func rateLimitDecisions(_ decision: String) -> Int {
        state.withLock { $0.rateLimit.filter { $0.key.decision == decision }.values.reduce(0, +) }
    }

    /// Requests refused for their API key, so far.
    public var authFailures: Int { state.withLock { $0.authFailures.values.reduce(0, +) } }

    /// The metrics in Prometheus's text format; `openHTTPConnections` is the proxy server's count.
    /// `process` adds the `process_*` metrics (left out where the node's `/metrics` has them).
    public func prometheusText(openHTTPConnections: Int, health: [(upstream: String, healthy: Bool)], process: Bool = true) -> String {
        let snapshot = state.withLock { $0 }
        var text = PrometheusExposition()
        typealias E = PrometheusExposition
        text.family("disco_proxy_requests_total", "Requests answered, by route, method and status: proxied, refused by a rate limit or an API-key check, or refused by the server before any route (route \"(edge)\").", type: "counter",
                    samples: snapshot.requests.sorted { ($0.key.route, $0.key.method, $0.key.status) < ($1.key.route, $1.key.method, $1.key.status) }
                        .map { ("route=\"\(E.escape($0.key.route))\",method=\"\($0.key.method)\",code=\"\($0.key.status)\"", String($0.value)) })
        text.histogram("disco_proxy_upstream_latency_seconds", "Time from sending a request upstream to its response head.",
                       bounds: Self.latencyBounds,
                       series: snapshot.latency.sorted { $0.key < $1.key }.map { ("upstream=\"\(E.escape($0.key))\"", $0.value) })
        text.family("disco_proxy_upstream_failures_total", "Exchanges with an upstream that failed (502 or 504).", type: "counter",
                    samples: snapshot.upstreamFailures.sorted { $0.key < $1.key }.map { ("upstream=\"\(E.escape($0.key))\"", String($0.value)) })
        text.family("disco_proxy_rate_limit_decisions_total",
                    "Requests each rate-limit zone passed, delayed or rejected (zone_full: rejected for want of room for a new key), dry run suffixed, for its own part.",
                    type: "counter", samples: snapshot.rateLimit.sorted { ($0.key.zone, $0.key.decision) < ($1.key.zone, $1.key.decision) }
                        .map { ("zone=\"\(E.escape($0.key.zone))\",decision=\"\($0.key.decision)\"", String($0.value)) })
        text.family("disco_proxy_auth_failures_total", "Requests refused for their API key: missing (401), unknown, wrong or revoked (403), or checked against keys that may be stale (503).",
                    type: "counter", samples: snapshot.authFailures.sorted { $0.key < $1.key }.map { ("reason=\"\($0.key)\"", String($0.value)) })
        text.family("disco_proxy_hops_total", "Requests claiming to be another sidecar's hop: proven, or why they were routed as a client's.",
                    type: "counter", samples: snapshot.hops.sorted { $0.key < $1.key }.map { ("result=\"\($0.key)\"", String($0.value)) })
        text.family("disco_proxy_shared_exchanges_total", "Shared rate-limit count exchanges, sent (per peer) and received, by result.",
                    type: "counter", samples: snapshot.exchanges.sorted { ($0.key.direction, $0.key.result) < ($1.key.direction, $1.key.result) }
                        .map { ("direction=\"\($0.key.direction)\",result=\"\($0.key.result)\"", String($0.value)) })
        text.gauge("disco_proxy_shared_dropped_requests", "Requests charged to shared zones whose counts could not be kept for an exchange (too many keys).",
                   String(snapshot.sharedDroppedRequests))
        text.gauge("disco_proxy_shared_peers", "Other sidecars the last shared rate-limit exchange was sent to.", String(snapshot.sharedPeers))
        text.gauge("disco_proxy_open_connections", "Open client connections to the HTTP proxy.", String(openHTTPConnections))
        text.gauge("disco_proxy_tcp_open_connections", "Open TCP pass-through connections.", String(openTCPConnections.load(ordering: .relaxed)))
        text.family("disco_proxy_tcp_connections_total", "TCP pass-through connections accepted, by listener.", type: "counter",
                    samples: snapshot.tcpConnections.sorted { $0.key < $1.key }.map { ("listener=\"\(E.escape($0.key))\"", String($0.value)) })
        text.family("disco_proxy_tcp_refused_total", "TCP pass-through connections closed at accept (connection or rate limit).", type: "counter",
                    samples: snapshot.tcpRefused.sorted { $0.key < $1.key }.map { ("listener=\"\(E.escape($0.key))\"", String($0.value)) })
        text.family("disco_proxy_splice_idle_closed_total", "TCP pass-through and WebSocket connections closed after their idle timeout.",
                    type: "counter", samples: SpliceKind.allCases.map { ("kind=\"\($0.rawValue)\"", String(spliceIdleClosedCount($0))) })
        text.family("disco_proxy_upstream_healthy", "1 when the upstream passes its health check.", type: "gauge",
                    samples: health.map { ("upstream=\"\(E.escape($0.upstream))\"", $0.healthy ? "1" : "0") })
        return process ? text.text + ProcessStatistics.current().prometheusText : text.text
    }
}

/// Methods counted by name in metrics; others count as `other` (bounded label values).
enum RetryMethods {
    /// Whether `method` is one of the standard methods (the rest count as `other`); a switch,
    /// not a set, since it is asked once per request.
    static func isKnown(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE", "CONNECT": true
        default: false
        }
    }
}
