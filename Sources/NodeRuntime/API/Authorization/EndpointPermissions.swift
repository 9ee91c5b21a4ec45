import DiscoCore
import DiscoNet

// MARK: - EndpointPermissions

/// Which permission each endpoint of the node's API needs (with `-auth`). One table, consulted
/// by ``APIAuthorization`` in front of the router; handlers never check permissions themselves.
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

    struct Rule: Sendable {
        var methods: Set<String>
        var paths: Set<String>
        var requirement: Requirement
    }

    /// The table (also rendered in the README's API table).
    static let rules: [Rule] = [
        Rule(methods: ["POST"], paths: ["/join"], requirement: .joinByRole),
        Rule(methods: ["POST", "GET"], paths: ["/notify", "/bootstrap/propose", "/bootstrap/abandon", "/bootstrap/status"],
             requirement: .permission(.join)),
        Rule(methods: ["DELETE", "POST"], paths: ["/remove"], requirement: .permission(.remove)),
        Rule(methods: ["POST"], paths: ["/events"], requirement: .permission(.eventsWrite)),
        Rule(methods: ["GET", "HEAD"], paths: ["/events"], requirement: .permission(.eventsRead)),
        Rule(methods: ["GET", "HEAD"], paths: ["/status", "/nodes", "/leader"], requirement: .permission(.status)),
        Rule(methods: ["GET", "HEAD"], paths: ["/readyz"], requirement: .permission(.ready)),
        Rule(methods: ["GET", "HEAD"], paths: ["/metrics"], requirement: .permission(.metrics)),
    ]

    /// The requirement for a request, or nil when no endpoint matches (the router answers 404
    /// or 405 then, whoever asks).
    static func requirement(for request: HTTPRequest) -> Requirement? {
        let path = Node.normalizedPath(request.path)
        return rules.first { $0.paths.contains(path) && $0.methods.contains(request.method) }?.requirement
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
