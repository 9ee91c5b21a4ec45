import DiscoAuth
import DiscoCore
import DiscoNet

// MARK: - APIAuthorization

/// Access control for the node's HTTP API: authenticates HTTP Basic credentials against the
/// `-auth` file and decides whether the caller has the permission a route needs
/// (``EndpointPermissions``). ``APIAccessControl`` applies it to every request as a middleware
/// of the API server; handlers never check permissions themselves.
///
/// - No credentials and too few permissions: 401 with `WWW-Authenticate: Basic realm="disco"`.
/// - Wrong credentials: 401, even where anonymous callers would be allowed.
/// - Valid credentials and too few permissions: 403.
/// - Two or more `Authorization` headers: 400 (which of them counts is for no layer to guess).
///
/// Both answers are JSON errors naming the permission needed (`"permission"`). Without `-auth`
/// every request is allowed.
struct APIAuthorization: Sendable {
    static let realm = "disco"

    /// What the caller of a request may do.
    enum Verdict {
        case allowed
        /// The 401 or 403 answer.
        case refused(HTTPResponse)
    }

    /// Nil when the API is open (no `-auth`).
    let store: CredentialStore?

    init(auth: AuthFile?) throws {
        store = try auth.map { try CredentialStore(file: $0) }
    }

    var isOpen: Bool { store == nil }

    /// Decides `requirement` for the request `method path` with `headers`. `body` reads the
    /// request's body; it is called only when the decision depends on it (a `join-read-only`
    /// caller's `POST /join`), and what it throws is thrown.
    func verdict(method: String, path: String, headers: HTTPHeaders, requirement: EndpointPermissions.Requirement,
                 body: () async throws -> [UInt8]) async throws -> Verdict {
        guard let store else { return .allowed }
        let endpoint = "\(method) \(Node.normalizedPath(path))"
        let needed = requirement.primary
        let sent = headers.values(for: "Authorization")
        guard sent.count <= 1 else {
            return .refused(APIResponse.error(400, "\(sent.count) Authorization headers; send one (HTTP Basic credentials of a user "
                + "with the \(needed) permission that \(endpoint) needs)", extra: [.init(key: "permission", value: .string(needed.rawValue))]))
        }
        switch await store.authenticate(authorization: sent.first) {
        case .rejected(let reason):
            return .refused(Self.unauthorized("authentication failed: \(reason); \(endpoint) needs a user with the \(needed) permission", needed))
        case .busy(let reason):
            var response = APIResponse.error(503, "credentials not checked: \(reason)")
            response.headers.add(name: "Retry-After", value: "1")
            return .refused(response)
        case .caller(let caller):
            if try await EndpointPermissions.allows(requirement, caller.permissions, body: body) { return .allowed }
            guard let username = caller.username else {
                return .refused(Self.unauthorized("\(endpoint) needs the \(needed) permission; send HTTP Basic credentials of a user that has it", needed))
            }
            return .refused(APIResponse.error(403, "user \(username.debugDescription) lacks the \(needed) permission that \(endpoint) needs",
                                              extra: [.init(key: "permission", value: .string(needed.rawValue))]))
        }
    }

    /// Who sent `request` (nil when the credentials are wrong or sent twice; anonymous when
    /// there are none, or without `-auth`, where everyone may do everything).
    func caller(of request: HTTPRequest) async -> Caller? {
        guard let store else { return Caller(username: nil, permissions: [.all]) }
        let sent = request.headers.values(for: "Authorization")
        guard sent.count <= 1 else { return nil }
        switch await store.authenticate(authorization: sent.first) {
        case .caller(let caller): return caller
        case .rejected, .busy: return nil
        }
    }

    private static func unauthorized(_ message: String, _ permission: Permission) -> HTTPResponse {
        var response = APIResponse.error(401, message, extra: [.init(key: "permission", value: .string(permission.rawValue))])
        response.headers.add(name: "WWW-Authenticate", value: "Basic realm=\"\(realm)\"")
        return response
    }
}
