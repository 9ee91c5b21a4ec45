import DiscoCore

// MARK: - Role flags

/// discod's role flags: what the node performs, requires and needs to bootstrap, and where the
/// `dns` role serves. (Vocabulary only, like the other flag files: the command-line fuzzer
/// compiles it with DiscoCore.)
struct RoleFlags: Sendable {
    /// The defaults of the dns role's flags (DiscoDNSServer's and DNSServerCore's; a test
    /// checks they agree).
    static let defaultDNSAddress = "127.0.0.1:8600"
    static let defaultDNSDomain = "disco."
    static let defaultDNSTTL: Duration = .seconds(5)

    let roles: Flag<String>
    let requires: Flag<String>
    let bootstrapNeeds: Flag<String>
    let dnsAddr: Flag<String>
    let dnsDomain: Flag<String>
    let dnsTTL: Flag<Duration>

    init(_ set: inout FlagSet, group: String) {
        roles = set.string("roles", usage: "Comma-separated roles this node performs, e.g. host,dns (names: lowercase letters,\n"
                           + "digits and '-', starting with a letter); recorded in its member record and gossiped.\n"
                           + "Built in: host (appends an event for dns when a member joins, leaves, changes address or roles),\n"
                           + "dns (serves the cluster over DNS on -dns-addr and consumes the events for dns);\n"
                           + "other names are announced only", group: group, typeName: "list")
        requires = set.string("requires", usage: "Comma-separated roles a live member must perform for this node to be ready;\n"
                              + "/readyz answers 503 naming the missing one", group: group, typeName: "list")
        bootstrapNeeds = set.string("bootstrap-needs", usage: "Comma-separated roles a live member must perform before this node finishes\n"
                                    + "starting (its roles start then); it logs what it waits for", group: group, typeName: "list")
        dnsAddr = set.string("dns-addr", default: Self.defaultDNSAddress,
                             usage: "With -roles dns: where the DNS server listens, UDP and TCP\n(:PORT: every interface, IPv6 and IPv4; port 0: any free port)",
                             group: group, typeName: "host:port")
        dnsDomain = set.string("dns-domain", default: Self.defaultDNSDomain,
                               usage: "With -roles dns: the zone served\n(<id>.node.<domain>, <role>.role.<domain>, ...)",
                               group: group, typeName: "domain")
        dnsTTL = set.duration("dns-ttl", default: Self.defaultDNSTTL,
                              usage: "With -roles dns: TTL of every answer, whole seconds (also the negative-caching TTL)", group: group)
    }
}

// MARK: - RoleOptions

/// The roles the command line asked for, with checked names. The dns role's settings are kept
/// as given; ``StartupCheck`` checks them (exit 2) before anything starts.
public struct RoleOptions: Sendable, Hashable {
    /// `-roles`: performed (sorted, each once).
    public var performs: [String] = []
    /// `-requires`.
    public var requires: [String] = []
    /// `-bootstrap-needs`.
    public var bootstrapNeeds: [String] = []
    /// `-dns-addr`, `-dns-domain`, `-dns-ttl` as given (used with `-roles dns`).
    public var dnsAddress = RoleFlags.defaultDNSAddress
    public var dnsDomain = RoleFlags.defaultDNSDomain
    public var dnsTTL = RoleFlags.defaultDNSTTL

    public init() {}

    /// Whether the node performs the dns role.
    public var performsDNS: Bool { performs.contains("dns") }

    init(_ flags: RoleFlags, parsed: ParsedFlags) throws(FlagError) {
        performs = try Self.list(parsed[flags.roles], flag: "roles")
        requires = try Self.list(parsed[flags.requires], flag: "requires")
        bootstrapNeeds = try Self.list(parsed[flags.bootstrapNeeds], flag: "bootstrap-needs")
        dnsAddress = parsed[flags.dnsAddr]
        dnsDomain = parsed[flags.dnsDomain]
        dnsTTL = parsed[flags.dnsTTL]
        let given = [("dns-addr", parsed.isSet(flags.dnsAddr)), ("dns-domain", parsed.isSet(flags.dnsDomain)), ("dns-ttl", parsed.isSet(flags.dnsTTL))]
        if !performsDNS, let (flag, _) = given.first(where: { $0.1 }) {
            throw FlagError.conflict(flag, "-\(flag) configures the dns role; add dns to -roles (e.g. -roles dns) or drop -\(flag)")
        }
    }

    /// A comma-separated list of role names, each checked.
    static func list(_ text: String, flag: String) throws(FlagError) -> [String] {
        guard !text.isEmpty else { return [] }
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { part in
            String(part.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
        }
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
        if performsDNS {
            metadata["dns_addr"] = .string(dnsAddress)
            metadata["dns_domain"] = .string(dnsDomain)
            metadata["dns_ttl"] = .string(GoDuration.format(dnsTTL))
        }
        return metadata
    }
}
