import DiscoCore
import DiscoNet

// MARK: - EndpointPermissions

/// What an endpoint of the node's API needs (with `-auth`): every ``APIRoute`` carries one,
/// checked by ``APIAuthorization`` before the handler; handlers never check permissions themselves.
enum EndpointPermissions {
    /// What a request needs.
    enum Requirement: Sendable, Hashable {
        /// This permission (or `all`).
        case permission(Permission)
        /// `POST /join`: `join`; a join as a non-voter (`"voter":false`) may also use
        /// `join-read-only`.
        case joinByRole

        /// The permission named in messages.
        var primary: Permission {
            switch self {
            case .permission(let permission): permission
            case .joinByRole: .join
            }
        }
    }

    /// The requirement of the node's own endpoint for a request, or nil when none matches (the
    /// router answers 404 or 405 then, whoever asks). The table is ``Node/builtInRoutes``.
    static func requirement(for request: HTTPRequest) -> Requirement? {
        guard let router = try? APIRouter(Node.builtInRoutes),
              case .route(let route) = router.match(method: request.method, path: request.path) else { return nil }
        return route.requirement
    }

    /// Whether a caller with `permissions` may make `request`.
    static func allows(_ requirement: Requirement, _ permissions: Set<Permission>, request: HTTPRequest) -> Bool {
        switch requirement {
        case .permission(let permission):
            return permissions.grants(permission)
        case .joinByRole:
            if permissions.grants(.join) { return true }
            guard permissions.contains(.joinReadOnly) else { return false }
            return (try? JSONValue.parse(request.body))?["voter"]?.boolValue == false
        }
    }
}
