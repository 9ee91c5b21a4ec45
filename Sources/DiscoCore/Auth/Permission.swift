// MARK: - Permission

/// What a user of the HTTP API may do (`-auth`): rqlite's permission names where rqlite has one.
public enum Permission: String, Sendable, Hashable, CaseIterable, Comparable, CustomStringConvertible {
    /// Every permission.
    case all
    /// Join as a voter (`POST /join` with `"voter":true`), take part in formation (`/notify`,
    /// `/bootstrap/*`), and move a member to new addresses.
    case join
    /// Join as a non-voter only (`POST /join` with `"voter":false`).
    case joinReadOnly = "join-read-only"
    /// Remove a member (`DELETE /remove`) and move leadership (`POST /leader/transfer`).
    case remove
    /// Append to the event log (`POST /events`).
    case eventsWrite = "events-write"
    /// Read the event log (`GET /events`).
    case eventsRead = "events-read"
    /// Read the node's status, members and leader (`/status`, `/nodes`, `/leader`).
    case status
    /// Readiness (`/readyz`); give it to `"*"` to make health checks anonymous.
    case ready
    /// Prometheus metrics (`/metrics`); give it to `"*"` for an anonymous scraper.
    case metrics
    /// Reserved for managing API keys (sidecar).
    case keysAdmin = "keys-admin"
    /// Reserved for hot/cold leases (sidecar).
    case hotAdmin = "hot-admin"

    public var description: String { rawValue }

    public static func < (lhs: Permission, rhs: Permission) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }

    /// `all, join, join-read-only, …` for messages.
    public static var list: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

extension Set where Element == Permission {
    /// Whether these permissions include `permission` (directly or through `all`).
    public func grants(_ permission: Permission) -> Bool { contains(.all) || contains(permission) }
}
