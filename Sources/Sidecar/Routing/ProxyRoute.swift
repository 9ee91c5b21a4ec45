// MARK: - Routes

/// Where a route sends the requests it matches: an upstream of this sidecar, or that upstream
/// of the cluster's writer (the sidecar next to the Raft leader, or the hot replica later).
public struct RouteTarget: Hashable, Sendable, CustomStringConvertible {
    /// The upstream's name in ``ProxyConfiguration/upstreams``.
    public var upstream: String
    /// True: the request goes to the writer's sidecar, which passes it to its own `upstream`.
    public var viaWriter: Bool

    public init(upstream: String, viaWriter: Bool = false) {
        self.upstream = upstream
        self.viaWriter = viaWriter
    }

    public var description: String { viaWriter ? "\(upstream) of the writer" : upstream }
}

/// One route: requests whose method is in `methods` (any method when nil) and whose path
/// starts with `pathPrefix` go to `target`. Routes are tried in order; the first match wins.
public struct ProxyRoute: Hashable, Sendable {
    /// The route's name in metrics and logs (`routes[2]` when the configuration gives none).
    public var name: String
    /// Upper-case method tokens, or nil for every method.
    public var methods: Set<String>?
    /// A path prefix compared byte for byte, as nginx compares a prefix `location`.
    public var pathPrefix: String
    public var target: RouteTarget

    public init(name: String, methods: Set<String>?, pathPrefix: String = "/", target: RouteTarget) {
        self.name = name
        self.methods = methods
        self.pathPrefix = pathPrefix
        self.target = target
    }

    /// Whether a request with `method` and `path` matches. Methods are tokens, compared byte
    /// for byte (not as Unicode text, which would equate canonically equivalent spellings).
    public func matches(method: String, path: String) -> Bool {
        if let methods, !methods.contains(where: { $0.utf8.elementsEqual(method.utf8) }) { return false }
        return path.utf8.starts(with: pathPrefix.utf8)
    }

    /// GET, HEAD and OPTIONS: what the default routes send to the local upstream.
    public static let readMethods: Set<String> = ["GET", "HEAD", "OPTIONS"]

    /// The routes of `-upstream` alone: reads to `upstream` here, everything else to the
    /// writer's `upstream`.
    public static func defaults(upstream: String) -> [ProxyRoute] {
        [ProxyRoute(name: "reads", methods: readMethods, target: RouteTarget(upstream: upstream)),
         ProxyRoute(name: "writes", methods: nil, target: RouteTarget(upstream: upstream, viaWriter: true))]
    }
}

// MARK: - Route table

/// The routes in order, and the routing decision for one request (a pure function of the
/// request, the writer and the upstreams' health).
public struct RouteTable: Hashable, Sendable {
    public var routes: [ProxyRoute]

    public init(_ routes: [ProxyRoute]) {
        self.routes = routes
    }

    /// The first route that matches, or nil.
    public func route(method: String, path: String) -> ProxyRoute? {
        firstMatch(method: method, path: path).map { routes[$0] }
    }

    /// The index in ``routes`` of the first route that matches, or nil; no route is copied.
    public func firstMatch(method: String, path: String) -> Int? {
        for index in routes.indices where routes[index].matches(method: method, path: path) { return index }
        return nil
    }

    /// Where one request goes. `hopped` is true when another sidecar already routed it here
    /// (it carries ``RoutingDecision/hopHeader``): then it goes to the local upstream whatever
    /// the route says, so a request never travels between sidecars twice.
    public func decide(method: String, path: String, hopped: Bool, writer: @autoclosure () -> WriterLocation,
                       isHealthy: (String) -> Bool) -> RoutingDecision {
        guard let route = route(method: method, path: path) else {
            return .refuse(status: 404, message: "no route for \(method) \(path)")
        }
        let upstream = route.target.upstream
        if route.target.viaWriter, !hopped {
            switch writer() {
            case .remote(let address, let id, let tls):
                return .forward(route: route, destination: .writer(address: address, id: id, upstream: upstream, tls: tls))
            case .unknown(let reason):
                return .refuse(status: 503, message: "\(method) \(path) goes to the cluster's writer, which is not known: \(reason)")
            case .local:
                break
            }
        }
        guard isHealthy(upstream) else {
            return .refuse(status: 503, message: "upstream \(upstream.debugDescription) is unhealthy")
        }
        return .forward(route: route, destination: .local(upstream: upstream))
    }
}

/// Where the cluster's writer is, as this sidecar knows it.
public enum WriterLocation: Hashable, Sendable {
    /// This node is the writer: writes go to its own upstream.
    case local
    /// Another node is: writes go to its sidecar's proxy at `address` (`host:port`, as that
    /// sidecar announced it), over HTTPS when `tls` (its proxy speaks only HTTPS).
    case remote(address: String, id: String, tls: Bool = false)
    /// Nobody is known to be (no leader yet): writes are refused with 503 and the reason.
    case unknown(reason: String)
}

/// What the proxy does with one request.
public enum RoutingDecision: Hashable, Sendable {
    case forward(route: ProxyRoute, destination: Destination)
    /// Answer with `status` and a JSON error carrying `message`.
    case refuse(status: Int, message: String)

    /// Where a request is forwarded.
    public enum Destination: Hashable, Sendable {
        /// This sidecar's upstream.
        case local(upstream: String)
        /// The writer's sidecar, which passes it to its `upstream` (over HTTPS when `tls`).
        case writer(address: String, id: String, upstream: String, tls: Bool = false)
    }

    /// The header a sidecar adds when it forwards a request to another sidecar (its node ID):
    /// the receiver sends such a request to its own upstream and never forwards it again.
    public static let hopHeader = "Disco-Sidecar-Hop"
}
