import DiscoCore
import RateLimitCore

// MARK: - -proxy-config

extension ProxyConfiguration {
    /// The top-level fields of `-proxy-config`.
    public static let fields = ["upstreams", "routes", "api_keys", "tcp_proxy", "upstream_health_interval",
                                "connect_timeout", "read_timeout"] + RateLimitConfiguration.fields
    static let upstreamFields = ["url", "health"]
    static let routeFields = ["name", "methods", "path", "upstream", "writer"]
    static let apiKeyFields = ["enabled", "methods"]
    static let tcpFields = ["listen", "upstream", "max_connections", "rate", "burst", "idle_timeout"]

    /// Decodes `-proxy-config` strictly: unknown fields are errors that list the valid ones
    /// (with a suggestion for a misspelling), and every error names its field.
    ///
    /// ```json
    /// {"upstreams": {"service": "http://127.0.0.1:9984",
    ///                "auth": {"url": "http://127.0.0.1:8080", "health": "/health"}},
    ///  "routes": [{"methods": ["GET", "HEAD"], "path": "/", "upstream": "service"},
    ///             {"methods": ["POST"], "path": "/api/v1/transactions", "upstream": "auth", "writer": true}],
    ///  "api_keys": {"enabled": true, "methods": ["POST"]},
    ///  "tcp_proxy": [{"listen": "10.0.0.5:27017", "upstream": "127.0.0.1:27017", "max_connections": 100, "idle_timeout": "30m"}],
    ///  "limit_req_zone": [{"name": "per_client", "rate": "10r/s"}], "limit_req": [{"zone": "per_client", "burst": 5}]}
    /// ```
    public init(json: JSONValue, context: String = "-proxy-config") throws(ConfigError) {
        let reader = try JSONObjectReader(json, context: context, allowedFields: Self.fields)
        self.init()
        upstreams = try Self.upstreams(reader)
        routes = try Self.routes(reader)
        rateLimit = try RateLimitConfiguration(reader: reader)
        if let keys = try reader.object("api_keys", allowedFields: Self.apiKeyFields) {
            apiKeys.enabled = try keys.bool("enabled") ?? true
            if let methods = try Self.apiKeyMethods(keys) { apiKeys.methods = methods }
        }
        tcpProxies = try Self.tcpProxies(reader)
        if let interval = try reader.duration("upstream_health_interval") {
            guard ProxyConfiguration.isUsableHealthInterval(interval) else {
                throw reader.error("upstream_health_interval", "must be 0 (no health checks) or at least "
                    + "\(GoDuration.format(ProxyConfiguration.minimumHealthInterval)), e.g. \"5s\"; got \(GoDuration.format(interval))")
            }
            healthInterval = interval
        }
        // As -proxy-connect-timeout and -proxy-read-timeout: a zero bound fails every request.
        if let timeout = try reader.duration("connect_timeout") {
            guard timeout > .zero else { throw reader.error("connect_timeout", "must be above 0, e.g. \"5s\"") }
            connectTimeout = timeout
        }
        if let timeout = try reader.duration("read_timeout") {
            guard timeout > .zero else { throw reader.error("read_timeout", "must be above 0, e.g. \"60s\"") }
            readTimeout = timeout
        }
    }

    // MARK: Fields

    private static func upstreams(_ reader: JSONObjectReader) throws(ConfigError) -> [UpstreamDefinition] {
        guard let value = reader.value("upstreams") else { return [] }
        guard case .object(let object) = value else {
            throw reader.error("upstreams", "expected an object of names to URLs, e.g. {\"service\": \"http://127.0.0.1:9984\"}, got \(value.errorDescription)")
        }
        var upstreams: [UpstreamDefinition] = []
        for member in object {
            let field = "upstreams.\(member.key)"
            guard LimitReqSyntax.zoneName(member.key).isSuccess else {
                throw reader.error(field, "an upstream name is 1 to 64 letters, digits, '_', '-' or '.'")
            }
            var url: String
            var health: String?
            switch member.value {
            case .string(let text):
                url = text
            case .object:
                let nested = try JSONObjectReader(member.value, context: reader.context, allowedFields: upstreamFields, path: reader.path + field + ".")
                url = try nested.required("url", try nested.string("url"), example: #"{"url":"http://127.0.0.1:9984"}"#)
                health = try nested.string("health")
                if let problem = health.flatMap(UpstreamDefinition.healthPathProblem) { throw nested.error("health", problem) }
            default:
                throw reader.error(field, "expected a URL string or {\"url\": …, \"health\": …}, got \(member.value.errorDescription)")
            }
            switch UpstreamDefinition.parseURL(url) {
            case .success(let address): upstreams.append(UpstreamDefinition(name: member.key, address: address, healthPath: health))
            case .failure(let problem): throw reader.error(field, problem.message)
            }
        }
        return upstreams
    }

    private static func routes(_ reader: JSONObjectReader) throws(ConfigError) -> [ProxyRoute] {
        guard let value = reader.value("routes") else { return [] }
        guard case .array(let elements) = value else { throw reader.error("routes", "expected an array of route objects, got \(value.errorDescription)") }
        var routes: [ProxyRoute] = []
        for (index, element) in elements.enumerated() {
            let route = try JSONObjectReader(element, context: reader.context, allowedFields: routeFields, path: reader.path + "routes[\(index)].")
            let upstream = try route.required("upstream", try route.string("upstream"), example: #"{"path":"/","upstream":"service"}"#)
            let path = try route.string("path") ?? "/"
            guard path.hasPrefix("/") else { throw route.error("path", "expected a path prefix starting with /, e.g. /api/v1/") }
            let named = try route.nonEmptyString("name")
            let next = ProxyRoute(name: named ?? "routes[\(index)]", methods: try methods(route, "methods"),
                                  pathPrefix: path, target: RouteTarget(upstream: upstream, viaWriter: try route.bool("writer") ?? false))
            try checkUnambiguous(next, named: named != nil, among: routes, route)
            routes.append(next)
        }
        return routes
    }

    /// The label ``ProxyRoute/name`` of requests no route matches, in `disco_proxy_requests_total`.
    public static let unroutedLabel = "none"

    /// Refuses a route that would be confused with an earlier one: its name is counted in
    /// metrics and shown by `-validate`, so two routes of one name (an unnamed route is called
    /// `routes[N]`), or one named as unrouted requests are counted, would merge their counts;
    /// and a route with the methods and path of an earlier one is never used (nginx refuses a
    /// duplicate `location` too). Repeats that change nothing (a method listed twice) are fine.
    private static func checkUnambiguous(_ next: ProxyRoute, named: Bool, among earlier: [ProxyRoute],
                                         _ route: JSONObjectReader) throws(ConfigError) {
        if next.name == unroutedLabel {
            throw route.error("name", "\(unroutedLabel.debugDescription) is how requests that match no route are counted in "
                + "disco_proxy_requests_total{route}; give the route another name")
        }
        if let index = earlier.firstIndex(where: { $0.name == next.name }) {
            let why = named ? "" : " (the name a route without \"name\" gets)"
            throw route.error("name", "route name \(next.name.debugDescription)\(why) is also routes[\(index)]'s; give each route its own "
                + "\"name\": requests are counted by route name in disco_proxy_requests_total, so the two would merge")
        }
        if let index = earlier.firstIndex(where: { $0.methods == next.methods && $0.pathPrefix == next.pathPrefix }) {
            let methods = next.methods.map { "methods " + $0.sorted().joined(separator: ",") } ?? "every method"
            throw route.error("path", "routes[\(index)] has the same path \(next.pathPrefix.debugDescription) and \(methods), and routes "
                + "are tried in order, so this one would never be used; remove one of them, or change its \"path\" or \"methods\"")
        }
    }

    static func methods(_ reader: JSONObjectReader, _ key: String) throws(ConfigError) -> Set<String>? {
        guard let list = try reader.stringArray(key) else { return nil }
        var methods: Set<String> = []
        for method in list {
            guard !method.isEmpty, method.utf8.allSatisfy(HTTPToken.isTokenByte) else {
                throw reader.error(key, "\(method.debugDescription) is not an HTTP method; write methods such as \"GET\" or \"POST\"")
            }
            methods.insert(method.uppercased())
        }
        guard !methods.isEmpty else { throw reader.error(key, "expected at least one method, or leave the field out for every method") }
        return methods
    }

    /// `api_keys.methods`: `"writes"` (also as `["writes"]`) or an array of methods.
    private static func apiKeyMethods(_ reader: JSONObjectReader) throws(ConfigError) -> APIKeyMethods? {
        let items: [String]
        if case .string(let text)? = reader.value("methods") {
            items = [text]
        } else {
            guard let list = try reader.stringArray("methods") else { return nil }
            items = list
        }
        switch APIKeyMethods.parse(items) {
        case .success(let methods): return methods
        case .failure(let problem): throw reader.error("methods", problem.message)
        }
    }

    private static func tcpProxies(_ reader: JSONObjectReader) throws(ConfigError) -> [TCPProxySpec] {
        guard let value = reader.value("tcp_proxy") else { return [] }
        guard case .array(let elements) = value else { throw reader.error("tcp_proxy", "expected an array of listener objects, got \(value.errorDescription)") }
        var specs: [TCPProxySpec] = []
        for (index, element) in elements.enumerated() {
            let tcp = try JSONObjectReader(element, context: reader.context, allowedFields: tcpFields, path: reader.path + "tcp_proxy[\(index)].")
            let listen = try tcp.required("listen", try tcp.string("listen"), example: #"{"listen":"10.0.0.5:27017","upstream":"127.0.0.1:27017"}"#)
            let upstream = try tcp.required("upstream", try tcp.string("upstream"), example: #""upstream":"127.0.0.1:27017""#)
            var spec = TCPProxySpec(listen: try address(tcp, "listen", listen, what: "listen address", allowsEmptyHost: true),
                                    upstream: try address(tcp, "upstream", upstream, what: "upstream address", allowsEmptyHost: false))
            spec.maxConnections = try tcp.int("max_connections", in: 1...1_000_000)
            if let rate = try tcp.string("rate") {
                switch LimitReqSyntax.rate(rate) {
                case .success(let value): spec.rate = value
                case .failure(let reason): throw tcp.error("rate", reason.text)
                }
            }
            spec.burst = try tcp.int("burst", in: 0...LimitReq.maximumBurst) ?? 0
            if spec.burst > 0, spec.rate == nil { throw tcp.error("burst", "needs \"rate\", e.g. \"rate\": \"10r/s\"") }
            if let timeout = try tcp.duration("idle_timeout") {
                guard timeout >= .zero else { throw tcp.error("idle_timeout", "must not be negative (0: no idle timeout), e.g. \"10m\"") }
                spec.idleTimeout = timeout
            }
            if let problem = spec.selfConnectionProblem { throw tcp.error("upstream", problem) }
            specs.append(spec)
        }
        return specs
    }

    /// `text` as the address of field `key`; an error names that field.
    private static func address(_ reader: JSONObjectReader, _ key: String, _ text: String, what: String,
                                allowsEmptyHost: Bool) throws(ConfigError) -> PeerAddress {
        do throws(FlagValueError) {
            return try TCPProxySpec.address(text, what: what, allowsEmptyHost: allowsEmptyHost)
        } catch {
            throw reader.error(key, error.reason)
        }
    }
}

extension Result {
    fileprivate var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
