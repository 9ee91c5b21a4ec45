import DiscoCore
import RateLimitCore

// MARK: - ProxyConfiguration

/// Everything the sidecar's proxy runs with: upstreams, routes, rate limits, API keys, TCP
/// listeners, health checks and timeouts. Built from the flags for the common case
/// (``SidecarFlags``) and from `-proxy-config` (``init(json:context:)``), merged by
/// ``merging(_:)``, then checked by ``validated()``.
public struct ProxyConfiguration: Hashable, Sendable {
    /// Where the HTTP proxy listens; nil runs no HTTP proxy (TCP listeners may still run).
    public var listenAddress: PeerAddress?
    /// Named upstreams, in the order given.
    public var upstreams: [UpstreamDefinition]
    /// Routes in order; empty means the defaults for the first upstream (``ProxyRoute/defaults(upstream:)``).
    public var routes: [ProxyRoute]
    public var rateLimit: RateLimitConfiguration
    public var apiKeys: APIKeySettings
    public var tcpProxies: [TCPProxySpec]
    /// How often each upstream's health is checked; zero turns checks off.
    public var healthInterval: Duration
    public var connectTimeout: Duration
    /// Bound on the exchange with an upstream up to its response head, and on each wait for more
    /// of its body.
    public var readTimeout: Duration
    /// How long SIGTERM lets in-flight requests finish before the node leaves.
    public var drainTimeout: Duration
    /// How long a client of the HTTP proxy may send nothing while its request body is awaited
    /// (then it is answered 408 and closed, as nginx's `client_body_timeout`), or keep an idle
    /// connection open between requests, or take none of a response being sent.
    public var clientIdleTimeout: Duration = .seconds(60)
    /// How long a TCP pass-through connection may pass no bytes either way before both sides are
    /// closed (nginx stream `proxy_timeout`), for listeners without their own; zero: never.
    public var tcpIdleTimeout: Duration = .seconds(600)
    /// How long a proxied WebSocket (any upgraded connection) may pass no bytes either way before
    /// both sides are closed; zero: never. nginx's nearest is `proxy_read_timeout` (upstream only).
    public var webSocketIdleTimeout: Duration = .seconds(3600)
    /// PEM certificate chain and key files: the proxy terminates TLS (HTTPS only) when set.
    public var tls: ProxyTLSFiles?
    /// How this sidecar checks the other sidecars' proxies it forwards writes to over HTTPS.
    public var peerTLS = ProxyPeerTLS()
    /// How often the certificate, key and CA files are checked for changes (a rotation, a
    /// Kubernetes Secret update); a change is loaded for new connections.
    public var tlsReloadInterval: Duration = .seconds(1)
    /// Where the other sidecars reach this proxy (`-proxy-adv-addr`); nil: the listening
    /// address, with the node's advertised API host when it listens on every interface.
    public var advertisedAddress: PeerAddress?
    /// Event-loop threads of the proxy (its own, apart from the node's). With one, requests are
    /// decided in the order they arrive, as by one nginx worker.
    public var threads: Int = 1
    /// Whether requests without a body bound for a local upstream are forwarded inline, on the
    /// loop thread without a task, when an idle upstream connection is at hand (the default).
    /// False sends every request through the middleware and the async path (for comparison in
    /// tests; clients see the same either way).
    public var inlineLane = true
    /// Whether the inline lane takes simple heads as they lie in the receive buffer, before a
    /// request value is made (the default), or only parsed requests (for comparison in tests;
    /// clients and upstreams see the same either way).
    public var inlineHeadViews = true
    /// `-proxy-ignore-client-abort` (nginx's `proxy_ignore_client_abort on`): a client whose end
    /// of the connection closes (a FIN, which may be a half-close) while its request waits keeps
    /// its request. False (the default): the request ends there, its upstream connection is
    /// closed, and it counts as 499. A reset ends the request either way.
    public var ignoresClientAbort = false
    /// `-proxy-hop-key`: the file with the secret that proves hops and shared counts between
    /// sidecars (``HopProof``); nil: hops are trusted by address and no zone can be shared.
    public var hopKeyFile: String?

    public init(listenAddress: PeerAddress? = nil, upstreams: [UpstreamDefinition] = [], routes: [ProxyRoute] = [],
                rateLimit: RateLimitConfiguration = RateLimitConfiguration(), apiKeys: APIKeySettings = APIKeySettings(),
                tcpProxies: [TCPProxySpec] = [], healthInterval: Duration = .seconds(5), connectTimeout: Duration = .seconds(5),
                readTimeout: Duration = .seconds(60), drainTimeout: Duration = .seconds(10)) {
        self.listenAddress = listenAddress
        self.upstreams = upstreams
        self.routes = routes
        self.rateLimit = rateLimit
        self.apiKeys = apiKeys
        self.tcpProxies = tcpProxies
        self.healthInterval = healthInterval
        self.connectTimeout = connectTimeout
        self.readTimeout = readTimeout
        self.drainTimeout = drainTimeout
        self.tls = nil
    }

    /// The shortest health-check interval the flags and `-proxy-config` accept (other than 0,
    /// no checks): each check is a connection to the upstream, so a nanosecond would be a busy
    /// loop of them. (The shortest interval the sidecars share rate-limit counts at is 10ms; a
    /// health check, a new connection and possibly an HTTP exchange, is dearer.)
    public static let minimumHealthInterval = Duration.milliseconds(100)

    /// Whether `interval` can be ``healthInterval``: zero (no checks) or at least
    /// ``minimumHealthInterval``.
    public static func isUsableHealthInterval(_ interval: Duration) -> Bool {
        interval == .zero || interval >= minimumHealthInterval
    }

    /// The routes in effect: those configured, or the defaults for the first upstream.
    public var routeTable: RouteTable {
        if !routes.isEmpty || upstreams.isEmpty { return RouteTable(routes) }
        return RouteTable(ProxyRoute.defaults(upstream: upstreams[0].name))
    }

    /// The upstream named `name`.
    public func upstream(named name: String) -> UpstreamDefinition? { upstreams.first { $0.name == name } }

    /// The idle timeout of `spec`'s connections (its own, else ``tcpIdleTimeout``); nil: none.
    public func idleTimeout(of spec: TCPProxySpec) -> Duration? {
        let timeout = spec.idleTimeout ?? tcpIdleTimeout
        return timeout > .zero ? timeout : nil
    }

    /// Whether anything runs at all (an HTTP proxy or a TCP listener).
    public var isEnabled: Bool { listenAddress != nil || !tcpProxies.isEmpty }

    /// Checks that routes name defined upstreams and that an HTTP proxy has somewhere to send
    /// requests; errors name the field and the fix.
    public func validated() throws(ConfigError) -> ProxyConfiguration {
        if listenAddress != nil, upstreams.isEmpty {
            throw ConfigError(code: .missingField, field: "upstream",
                              message: "-proxy-addr needs an upstream: give -upstream http://127.0.0.1:PORT or \"upstreams\" in -proxy-config")
        }
        if rateLimit.policy.limits.count > RateLimitDecision.PerLimit.capacity {
            throw ConfigError(code: .invalidValue, field: "limit_req",
                              message: "\(rateLimit.policy.limits.count) rate limits (-limit-req flags and limit_req in -proxy-config together); "
                                + "at most \(RateLimitDecision.PerLimit.capacity) apply to a request, each counted in its zone's metrics")
        }
        if !rateLimit.sharedZones.isEmpty, hopKeyFile == nil {
            let names = rateLimit.sharedZoneNames.map(\.debugDescription).joined(separator: ", ")
            throw ConfigError(code: .missingField, field: "proxy-hop-key",
                              message: "shared rate-limit zone \(names) needs -proxy-hop-key FILE (a secret every sidecar has, at least 32 bytes): "
                                + "counts from other sidecars are accepted only with a proof under it")
        }
        for (index, route) in routes.enumerated() where upstream(named: route.target.upstream) == nil {
            let names = upstreams.map { $0.name.debugDescription }.joined(separator: ", ")
            throw ConfigError(code: .invalidValue, field: "routes[\(index)].upstream",
                              message: "-proxy-config field \"routes[\(index)].upstream\": no upstream is named \(route.target.upstream.debugDescription)"
                                + (names.isEmpty ? "; define it in \"upstreams\"" : "; defined upstreams: \(names)"))
        }
        return self
    }

    /// This configuration (from flags) with `other` (from `-proxy-config`): upstreams, routes,
    /// rate limits and TCP listeners of both; API keys on when either turns them on.
    public func merging(_ other: ProxyConfiguration) throws(ConfigError) -> ProxyConfiguration {
        var merged = self
        for upstream in other.upstreams {
            if self.upstream(named: upstream.name) != nil {
                throw ConfigError(code: .invalidValue, field: "upstreams",
                                  message: "upstream \(upstream.name.debugDescription) is defined twice (by -upstream and -proxy-config); rename the one in -proxy-config")
            }
            merged.upstreams.append(upstream)
        }
        merged.routes += other.routes
        merged.rateLimit = try rateLimit.merging(other.rateLimit)
        merged.tcpProxies += other.tcpProxies
        if other.apiKeys.enabled { merged.apiKeys = other.apiKeys }
        return merged
    }
}

/// The certificate chain and private key a listener presents (PEM files).
public struct ProxyTLSFiles: Hashable, Sendable {
    public var certificate: String
    public var key: String
    /// The flags that named the files (`proxy`, or `http` when they are the API's), for messages.
    public var flagPrefix: String

    public init(certificate: String, key: String, flagPrefix: String = "proxy") {
        self.certificate = certificate
        self.key = key
        self.flagPrefix = flagPrefix
    }
}

/// How a sidecar verifies the writer's proxy when it forwards a write over HTTPS: the writer's
/// certificate must be signed by ``caCertificate`` (the system's CAs when nil) and carry
/// ``serverName`` (the host the writer announced when nil).
public struct ProxyPeerTLS: Hashable, Sendable {
    /// PEM CA bundle (`-proxy-ca-cert`, else `-http-ca-cert`'s).
    public var caCertificate: String?
    /// The flag that named ``caCertificate`` (`proxy-ca-cert` or `http-ca-cert`), for messages.
    public var caFlag: String
    /// The name the writer's certificate must carry (`-proxy-server-name`).
    public var serverName: String?

    public init(caCertificate: String? = nil, caFlag: String = "proxy-ca-cert", serverName: String? = nil) {
        self.caCertificate = caCertificate
        self.caFlag = caFlag
        self.serverName = serverName
    }
}

// MARK: - Upstreams

/// A named HTTP service the proxy forwards to.
public struct UpstreamDefinition: Hashable, Sendable {
    public var name: String
    /// `host:port` (plain HTTP).
    public var address: PeerAddress
    /// Path of an HTTP GET that must answer 2xx or 3xx; nil checks that a TCP connection opens.
    public var healthPath: String?

    public init(name: String, address: PeerAddress, healthPath: String? = nil) {
        self.name = name
        self.address = address
        self.healthPath = healthPath
    }

    /// The name `-upstream` gives its upstream.
    public static let flagName = "local"

    /// Why `path` cannot be a health check's path (`-upstream-health`, an upstream's `health`),
    /// naming the fix; nil when it can. It goes into the check's request line as it is, so it
    /// must start with `/` and be printable ASCII without spaces (a query is fine).
    public static func healthPathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "expected a path such as /health, starting with /" }
        guard path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return "a path goes into the request line as it is: percent-encode spaces, control characters and non-ASCII, e.g. /he%20alth"
        }
        return nil
    }

    /// Parses `http://host:port` (a trailing `/` is allowed; no other path).
    public static func parseURL(_ text: String) -> Result<PeerAddress, SidecarSyntaxError> {
        let example = "expected http://host:port, e.g. http://127.0.0.1:9984"
        let lower = text.lowercased()
        if lower.hasPrefix("https://") {
            return .failure(SidecarSyntaxError("\(text): https upstreams are not supported yet; use http:// (TLS to upstreams comes later)"))
        }
        guard lower.hasPrefix("http://") else { return .failure(SidecarSyntaxError("\(text): \(example)")) }
        var rest = String(text.dropFirst("http://".count))
        if rest.hasSuffix("/") { rest.removeLast() }
        do throws(PeerAddressError) {
            return .success(try PeerAddress(parsing: rest, defaultPort: 80))
        } catch {
            return .failure(SidecarSyntaxError("\(text): \(error.reason); \(example)"))
        }
    }
}

// MARK: - API keys

/// Which requests need an API key (3scale's `app_id` and `app_key` headers).
public struct APIKeySettings: Hashable, Sendable {
    public var enabled: Bool
    /// Methods that need a key when ``enabled``: by default every method except GET, HEAD and
    /// OPTIONS (``APIKeyMethods/writes``).
    public var methods: APIKeyMethods
    /// `-api-key-file`: the keys to check instead of the cluster's replicated ones (nil: the cluster's).
    public var file: String?
    /// `-api-key-max-staleness`: how long a node may go without word from the Raft leader before
    /// its sidecar refuses requests that need one of the cluster's keys and are checked against
    /// its own copy (those its own upstream serves). Nil: four election timeouts
    /// (`Node.leaderSilenceBound`); zero: never refused for that.
    public var maxStaleness: Duration?

    public init(enabled: Bool = false, methods: APIKeyMethods = .writes, file: String? = nil, maxStaleness: Duration? = nil) {
        self.enabled = enabled
        self.methods = methods
        self.file = file
        self.maxStaleness = maxStaleness
    }

    /// The header carrying the application's ID.
    public static let appIDHeader = "app_id"
    /// The header carrying the application's secret key.
    public static let appKeyHeader = "app_key"
    /// Credential headers removed before a request reaches an upstream (lower case): both, also
    /// spelled with `-`, which is the same field to an upstream that reads fields CGI-style
    /// (`HTTP_APP_KEY` in WSGI servers such as gunicorn, in Rack and PHP; nginx's
    /// `$http_app_key`), so a key sent as `App-Key` would reach the application, and an
    /// `App-Id` sent along with a checked `app_id` would name another application to it.
    public static let credentialHeaders: Set<String> = ["app_id", "app_key", "app-id", "app-key"]

    /// Whether a request with `method` needs a key: API keys are on and ``methods`` says so
    /// (``APIKeyMethods/requiresKey(method:)``).
    public func requiresKey(method: String) -> Bool {
        enabled && methods.requiresKey(method: method)
    }
}
