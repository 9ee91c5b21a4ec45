import DiscoAuth
import DiscoCore
import DiscoNet

// MARK: - APIAuthorization

/// Access control for the node's HTTP API, as one layer in front of the router: a middleware
/// (`respond(to:next:)`) that authenticates HTTP Basic credentials against the `-auth` file and
/// checks the permission ``EndpointPermissions`` requires.
///
/// - No credentials and too few permissions: 401 with `WWW-Authenticate: Basic realm="disco"`.
/// - Wrong credentials: 401, even where anonymous callers would be allowed.
/// - Valid credentials and too few permissions: 403.
///
/// Both answers are JSON errors naming the permission needed (`"permission"`). Without `-auth`
/// every request passes through.
struct APIAuthorization: Sendable {
    static let realm = "disco"

    /// Nil when the API is open (no `-auth`).
    let store: CredentialStore?

    init(auth: AuthFile?) throws {
        store = try auth.map { try CredentialStore(file: $0) }
    }

    var isOpen: Bool { store == nil }

    /// The middleware for the node's own endpoints: answers 401 or 403 itself, or hands the
    /// request to `next` (any request that matches no endpoint passes).
    func respond(to request: HTTPRequest, next: @Sendable (HTTPRequest) async -> HTTPResponse) async -> HTTPResponse {
        guard let requirement = EndpointPermissions.requirement(for: request) else { return await next(request) }
        return await respond(to: request, requirement: requirement, next: next)
    }

    /// Checks `requirement` for `request`: answers 401 or 403 itself, or hands it to `next`.
    func respond(to request: HTTPRequest, requirement: EndpointPermissions.Requirement,
                 next: @Sendable (HTTPRequest) async -> HTTPResponse) async -> HTTPResponse {
        guard let store else { return await next(request) }
        let endpoint = "\(request.method) \(Node.normalizedPath(request.path))"
        let needed = requirement.primary
        switch await store.authenticate(authorization: request.headers["Authorization"]) {
        case .rejected(let reason):
            return Self.unauthorized("authentication failed: \(reason); \(endpoint) needs a user with the \(needed) permission", needed)
        case .caller(let caller):
            if EndpointPermissions.allows(requirement, caller.permissions, request: request) { return await next(request) }
            guard let username = caller.username else {
                return Self.unauthorized("\(endpoint) needs the \(needed) permission; send HTTP Basic credentials of a user that has it", needed)
            }
            return APIResponse.error(403, "user \(username.debugDescription) lacks the \(needed) permission that \(endpoint) needs",
                                     extra: [.init(key: "permission", value: .string(needed.rawValue))])
        }
    }

    /// Who sent `request` (nil when the credentials are wrong; anonymous when there are none, or
    /// without `-auth`, where everyone may do everything).
    func caller(of request: HTTPRequest) async -> Caller? {
        guard let store else { return Caller(username: nil, permissions: [.all]) }
        switch await store.authenticate(authorization: request.headers["Authorization"]) {
        case .caller(let caller): return caller
        case .rejected: return nil
        }
    }

    private static func unauthorized(_ message: String, _ permission: Permission) -> HTTPResponse {
        var response = APIResponse.error(401, message, extra: [.init(key: "permission", value: .string(permission.rawValue))])
        response.headers.add(name: "WWW-Authenticate", value: "Basic realm=\"\(realm)\"")
        return response
    }
}
