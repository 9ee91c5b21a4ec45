import DiscoCore
import DiscoNet

// MARK: - APIRoute

/// One endpoint of the node's HTTP API: the methods and path it answers, the permission it
/// needs when access control is on (`-auth`), and its handler. The node's own endpoints and
/// those of its roles (``Role/routes``) are entries of one table (``APIRouter``).
public struct APIRoute: Sendable {
    /// The methods answered (`GET` also answers `HEAD`).
    public let methods: Set<String>
    /// The path, without a trailing slash (`/hot`, `/keys`).
    public let path: String
    /// Whether the route also answers every path below ``path`` (`/keys/abc` for `/keys`).
    public let matchesSubpaths: Bool
    /// What the caller needs with `-auth`.
    let requirement: EndpointPermissions.Requirement
    /// Whether the handler runs to its end when the request's client leaves (the server cancels
    /// the handlers of requests whose client left): for changes to the cluster made of several
    /// steps, such as a removal (a Raft change, then the member record), which must not stop
    /// half way.
    public let runsToCompletion: Bool
    let handler: @Sendable (Node, HTTPRequest) async -> HTTPResponse

    /// A route needing `permission` (with `-auth`); `handler` gets the whole request.
    public init(_ methods: Set<String>, _ path: String, subpaths: Bool = false, permission: Permission, runsToCompletion: Bool = false,
                handler: @escaping HTTPHandler) {
        self.init(methods, path, subpaths: subpaths, requirement: .permission(permission), runsToCompletion: runsToCompletion) { _, request in
            await handler(request)
        }
    }

    init(_ methods: Set<String>, _ path: String, subpaths: Bool = false, requirement: EndpointPermissions.Requirement,
         runsToCompletion: Bool = false, handler: @escaping @Sendable (Node, HTTPRequest) async -> HTTPResponse) {
        self.methods = methods
        self.path = Node.normalizedPath(path)
        matchesSubpaths = subpaths
        self.requirement = requirement
        self.runsToCompletion = runsToCompletion
        self.handler = handler
    }

    /// Whether the route answers `path` (already normalized), whatever the method.
    func covers(_ path: String) -> Bool {
        path == self.path || matchesSubpaths && path.hasPrefix(self.path == "/" ? "/" : self.path + "/")
    }

    /// Whether the route answers `method`.
    func allows(_ method: String) -> Bool {
        methods.contains(method) || method == "HEAD" && methods.contains("GET")
    }

    /// `"GET /status"`, `"POST|DELETE /keys/*"`.
    var summary: String {
        methods.sorted().joined(separator: "|") + " " + path + (matchesSubpaths ? "/*" : "")
    }
}

// MARK: - APIRouter

/// The table of the node's API: finds the route for a request (the most specific path wins:
/// an exact route before one covering subpaths), or says why there is none.
struct APIRouter: Sendable {
    enum Match {
        case route(APIRoute)
        /// The path exists, but not with this method.
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    let routes: [APIRoute]

    /// A table of `routes`; throws when two answer the same method on the same path.
    init(_ routes: [APIRoute]) throws(NodeStartupError) {
        for (position, route) in routes.enumerated() {
            for other in routes[..<position] where other.path == route.path && other.matchesSubpaths == route.matchesSubpaths {
                let shared = route.methods.intersection(other.methods)
                if !shared.isEmpty {
                    throw NodeStartupError("two API routes answer \(shared.sorted().joined(separator: "|")) \(route.path): \(other.summary) and \(route.summary)")
                }
            }
        }
        self.routes = routes
    }

    func match(method: String, path rawPath: String) -> Match {
        let path = Node.normalizedPath(rawPath)
        // Exact routes first, then the longest covering prefix.
        let candidates = routes.filter { $0.covers(path) }
            .sorted { ($0.path == path ? 1 : 0, $0.path.count) > ($1.path == path ? 1 : 0, $1.path.count) }
        guard let best = candidates.first else { return .notFound }
        let samePath = candidates.filter { $0.path == best.path && $0.matchesSubpaths == best.matchesSubpaths }
        if let route = samePath.first(where: { $0.allows(method) }) { return .route(route) }
        return .methodNotAllowed(allowed: Array(Set(samePath.flatMap(\.methods))).sorted())
    }

    /// Every endpoint, for the 404 answer.
    var summary: String { routes.map(\.summary).joined(separator: ", ") }
}
