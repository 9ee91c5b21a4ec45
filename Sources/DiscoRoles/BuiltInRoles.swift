import DiscoCore
import NodeRuntime

// MARK: - Built-in roles

/// The roles Disco implements (`-roles host,dns`). A role is a type conforming to ``Role``;
/// this table is how `discod` finds the type for a name. A name without an implementation is
/// still announced (in the member record, gossip, `/nodes?role=`), so other programs can give a
/// node a role Disco itself does nothing for.
public enum BuiltInRoles {
    /// What the built-in roles need from the command line.
    public struct Settings: Sendable {
        /// The `dns` role's server and zone.
        public var dns: DNSRoleConfiguration?
        /// The roles the `host` role's events are for.
        public var hostTargets: [String] = [DNSRole.roleName]

        public init(dns: DNSRoleConfiguration? = nil) {
            self.dns = dns
        }
    }

    /// The names Disco has an implementation for, with what each does (for `discod -h`).
    public static let descriptions: [(name: String, summary: String)] = [
        ("dns", "serves the cluster over DNS on -dns-addr and consumes the events for dns"),
        ("host", "appends an event for dns when a member joins, leaves, changes address or roles"),
    ]

    /// The implementations for `names` (names Disco does not implement are left out).
    public static func make(_ names: [String], settings: Settings) throws(BuiltInRoleError) -> [any Role] {
        var roles: [any Role] = []
        for name in RoleNames.normalized(names) {
            switch name {
            case DNSRole.roleName:
                guard let dns = settings.dns else { throw BuiltInRoleError("the dns role needs its server settings (-dns-addr, -dns-domain, -dns-ttl)") }
                roles.append(DNSRole(dns))
            case "host":
                roles.append(HostRole(targets: settings.hostTargets))
            default:
                continue
            }
        }
        return roles
    }
}

/// A built-in role that cannot be made as asked.
public struct BuiltInRoleError: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
