import DNSServerCore
import DiscoCore
import DiscoDNSServer
import DiscoRoles
import Foundation
import NodeRuntime

// MARK: - Role flags

/// discod's role flags: what the node performs, requires and needs to bootstrap, and where the
/// `dns` role serves.
struct RoleFlags: Sendable {
    let roles: Flag<String>
    let requires: Flag<String>
    let bootstrapNeeds: Flag<String>
    let dnsAddr: Flag<String>
    let dnsDomain: Flag<String>
    let dnsTTL: Flag<Duration>

    init(_ set: inout FlagSet, group: String) {
        let builtIn = BuiltInRoles.descriptions.map { "  \($0.name): \($0.summary)" }.joined(separator: "\n")
        roles = set.string("roles", usage: "Comma-separated roles this node performs, e.g. host,dns (names: lowercase letters,\n"
                           + "digits and '-', starting with a letter); recorded in its member record and gossiped.\nBuilt in:\n\(builtIn)",
                           group: group, typeName: "list")
        requires = set.string("requires", usage: "Comma-separated roles a live member must perform for this node to be ready;\n"
                              + "/readyz answers 503 naming the missing one", group: group, typeName: "list")
        bootstrapNeeds = set.string("bootstrap-needs", usage: "Comma-separated roles a live member must perform before this node finishes\n"
                                    + "starting (its roles start then); it logs what it waits for", group: group, typeName: "list")
        dnsAddr = set.string("dns-addr", default: DNSServerConfiguration.defaultAddress,
                             usage: "With -roles dns: where the DNS server listens, UDP and TCP (port 0: any free port)",
                             group: group, typeName: "host:port")
        dnsDomain = set.string("dns-domain", default: DNSZoneSettings.defaultDomain,
                               usage: "With -roles dns: the zone served (<id>.node.<domain>, <role>.role.<domain>, ...)",
                               group: group, typeName: "domain")
        dnsTTL = set.duration("dns-ttl", default: .seconds(Int64(DNSZoneSettings.defaultTTL)),
                              usage: "With -roles dns: TTL of every answer, whole seconds (also the negative-caching TTL)", group: group)
    }
}

// MARK: - RoleOptions

/// The roles the command line asked for, checked.
public struct RoleOptions: Sendable {
    /// `-roles`: performed (sorted, each once).
    public var performs: [String] = []
    /// `-requires`.
    public var requires: [String] = []
    /// `-bootstrap-needs`.
    public var bootstrapNeeds: [String] = []
    /// The `dns` role's settings (with `-roles dns`).
    public var dns: DNSRoleConfiguration?

    public init() {}

    init(_ flags: RoleFlags, parsed: ParsedFlags) throws(FlagError) {
        performs = try Self.list(parsed[flags.roles], flag: "roles")
        requires = try Self.list(parsed[flags.requires], flag: "requires")
        bootstrapNeeds = try Self.list(parsed[flags.bootstrapNeeds], flag: "bootstrap-needs")
        let dnsFlags: [(String, Bool)] = [("dns-addr", parsed.isSet(flags.dnsAddr)), ("dns-domain", parsed.isSet(flags.dnsDomain)),
                                          ("dns-ttl", parsed.isSet(flags.dnsTTL))]
        guard performs.contains(DNSRole.roleName) else {
            if let (flag, _) = dnsFlags.first(where: { $0.1 }) {
                throw FlagError.conflict(flag, "-\(flag) configures the dns role; add dns to -roles (e.g. -roles dns) or drop -\(flag)")
            }
            return
        }
        do throws(DNSSettingsError) {
            dns = try DNSRoleConfiguration(address: parsed[flags.dnsAddr], domain: parsed[flags.dnsDomain], ttl: parsed[flags.dnsTTL])
        } catch {
            let flag = error.flag.hasPrefix("-") ? String(error.flag.dropFirst()) : "dns-ttl"
            throw FlagError.invalid(flag, error.reason)
        }
    }

    /// A comma-separated list of role names, each checked.
    static func list(_ text: String, flag: String) throws(FlagError) -> [String] {
        guard !text.isEmpty else { return [] }
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        for name in names {
            guard !name.isEmpty else {
                throw FlagError.invalid(flag, "\(text.debugDescription) has an empty role name; write names separated by commas, e.g. host,dns")
            }
            if let problem = RoleNames.problem(with: name) { throw FlagError.invalid(flag, problem) }
        }
        if let problem = RoleNames.problem(with: names) { throw FlagError.invalid(flag, problem) }
        return RoleNames.normalized(names)
    }

    /// The role settings as log metadata.
    var metadata: Logger.Metadata {
        var metadata: Logger.Metadata = [:]
        if !performs.isEmpty { metadata["roles"] = .array(performs.map { .string($0) }) }
        if !requires.isEmpty { metadata["requires"] = .array(requires.map { .string($0) }) }
        if !bootstrapNeeds.isEmpty { metadata["bootstrap_needs"] = .array(bootstrapNeeds.map { .string($0) }) }
        if let dns {
            metadata["dns_addr"] = .string("\(dns.server.host):\(dns.server.port)")
            metadata["dns_domain"] = .string(dns.zone.domain.description)
            metadata["dns_ttl"] = .string("\(dns.zone.ttl)s")
        }
        return metadata
    }

    /// The ``Role`` implementations for ``performs`` (names Disco does not implement are only
    /// announced).
    public func makeRoles() throws(BuiltInRoleError) -> [any Role] {
        try BuiltInRoles.make(performs, settings: BuiltInRoles.Settings(dns: dns))
    }
}
