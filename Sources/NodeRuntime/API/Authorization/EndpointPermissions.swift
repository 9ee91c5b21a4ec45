import DiscoCore
import DiscoNet

// MARK: - EndpointPermissions

/// What an endpoint of the node's API needs (with `-auth`): every ``APIRoute`` carries one,
/// checked by the server's ``APIAccessControl`` middleware before the handler; handlers never
/// check permissions themselves.
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

    /// Whether a caller with `permissions` may make a request with this requirement; `body`
    /// reads the request's body, called only when the answer depends on it.
    static func allows(_ requirement: Requirement, _ permissions: Set<Permission>,
                       body: () async throws -> [UInt8]) async throws -> Bool {
        switch requirement {
        case .permission(let permission):
            return permissions.grants(permission)
        case .joinByRole:
            if permissions.grants(.join) { return true }
            guard permissions.contains(.joinReadOnly) else { return false }
            let bytes = try await body()
            return (try? JSONValue.parse(bytes))?["voter"]?.boolValue == false
        }
    }
}
