import DiscoCore

// MARK: - DiscodFlags

/// The flags of `discod [flags] <data-dir>`, declared once so the daemon, its help text and
/// tests agree. Names, defaults and meanings follow rqlited where rqlited has the flag.
///
/// Another executable that runs a full node (`disco-sidecar`) builds the same set under its own
/// name and adds its flags to ``flagSet`` before parsing:
///
/// ```swift
/// var flags = DiscodFlags(programName: "disco-sidecar", synopsis: "Usage: disco-sidecar [flags] <data-dir>")
/// let proxyAddress = flags.flagSet.string("proxy-addr", usage: "…", group: "Proxy")
/// let (options, parsed) = NodeCommand(flags: flags).parse(arguments)
/// ```
public struct DiscodFlags: Sendable {
    /// `-consensus`'s values.
    public enum ConsensusEngineName: String, Sendable, Hashable {
        case raft, etcd
    }

    public static let nodeGroup = "Node"
    public static let formationGroup = "Cluster formation"
    public static let discoveryGroup = "Discovery"
    public static let gossipGroup = "Gossip encryption"
    public static let tlsGroup = "TLS"
    public static let loggingGroup = "Logging"
    public static let checkingGroup = "Checking"
    public static let accessGroup = "Access control"
    public static let rolesGroup = "Roles"

    /// The declared flag set (print ``FlagSet/usage()`` for help); a second executable adds its
    /// own flags here.
    public var flagSet: FlagSet

    let nodeID: Flag<String>
    let httpAddr: Flag<PeerAddress>
    let httpAdvAddr: Flag<PeerAddress?>
    let raftAddr: Flag<PeerAddress>
    let raftAdvAddr: Flag<PeerAddress?>
    let raftNonVoter: Flag<Bool>
    let clusterName: Flag<String>
    let eventsRetain: Flag<Int>
    let eventsRetainBytes: Flag<Int>
    let eventsCursorIdle: Flag<Duration>
    let join: Flag<[PeerAddress]>
    let joinAttempts: Flag<Int>
    let joinInterval: Flag<Duration>
    let bootstrapExpect: Flag<Int>
    let bootstrapExpectTimeout: Flag<Duration>
    let clusterConnectTimeout: Flag<Duration>
    let reapLearnerTimeout: Flag<Duration>
    let discoMode: Flag<DiscoMode?>
    let discoKey: Flag<String>
    let discoConfig: Flag<String>
    let consensus: Flag<ConsensusEngineName>
    let consensusConfig: Flag<String>
    let gossip: GossipFlags
    let roles: RoleFlags
    let auth: Flag<String>
    let joinAs: Flag<String>
    /// `-http-cert`, `-http-key`, `-http-ca-cert`: public for programs whose own TLS falls back to the API's (disco-sidecar).
    public let httpCert: Flag<String>
    public let httpKey: Flag<String>
    public let httpCACert: Flag<String>
    let httpVerifyClient: Flag<Bool>
    let nodeCert: Flag<String>
    let nodeKey: Flag<String>
    let nodeCACert: Flag<String>
    let nodeVerifyClient: Flag<Bool>
    let nodeNoVerify: Flag<Bool>
    let logLevel: Flag<Logger.Level>
    let logFormat: Flag<LogFormat>
    let validate: Flag<Bool>

    /// discod's own synopsis (the first lines of `discod -h`).
    public static let discodSynopsis = """
        Usage: discod [flags] <data-dir>

        Runs a Disco node that keeps its state in <data-dir>. All flags must come before the data
        directory. With no -join and no -disco-mode the node forms a cluster of its own; with
        -bootstrap-expect N and -join (or dns, dns-srv) N nodes form one cluster together.

        Examples:
          discod -node-id 1 data
          discod -node-id 2 -http-addr 10.0.0.2:4001 -raft-addr 10.0.0.2:4002 -bootstrap-expect 3 \\
            -join http://10.0.0.1:4001,http://10.0.0.2:4001,http://10.0.0.3:4001 data
        """

    /// The flags of a node, under `programName` with `synopsis` as the head of its help.
    public init(programName: String = "discod", synopsis: String = DiscodFlags.discodSynopsis) {
        var set = FlagSet(programName: programName, synopsis: synopsis,
                          epilogue: "Durations are written like 300ms, 1.5s, 2m or 1h2m3.5s.")

        // MARK: Node
        let node = Self.nodeGroup
        nodeID = set.string("node-id", usage: "Unique, permanent ID of this node (default: the advertised Raft address)", group: node, typeName: "id")
        httpAddr = set.custom("http-addr", default: PeerAddress(host: "localhost", port: 4001), defaultText: "\"localhost:4001\"",
                              typeName: "host:port", usage: "HTTP API bind address (clients, operators, join and notify); :PORT listens\n"
                                + "on every interface, IPv6 and IPv4 (then set -http-adv-addr)",
                              group: node, parse: Self.parseBindAddress)
        httpAdvAddr = set.custom("http-adv-addr", default: nil, defaultText: nil, typeName: "host:port",
                                 usage: "Advertised HTTP API address (default: -http-addr)", group: node,
                                 parse: Self.parseOptionalAddress)
        raftAddr = set.custom("raft-addr", default: PeerAddress(host: "localhost", port: 4002), defaultText: "\"localhost:4002\"",
                              typeName: "host:port", usage: "Internode bind address: Raft (TCP) and SWIM gossip (UDP) on one port;\n"
                                + ":PORT listens on every interface, IPv6 and IPv4 (set -raft-adv-addr)",
                              group: node, parse: Self.parseBindAddress)
        raftAdvAddr = set.custom("raft-adv-addr", default: nil, defaultText: nil, typeName: "host:port",
                                 usage: "Advertised internode address (default: -raft-addr); on another port,\nmap both TCP and UDP from it to -raft-addr's port", group: node,
                                 parse: Self.parseOptionalAddress)
        raftNonVoter = set.bool("raft-non-voter", usage: "Join as a non-voting member: it receives the replicated state and answers reads,\n"
                                 + "but never votes or bootstraps (needs -join or -disco-mode)", group: node)
        clusterName = set.string("cluster-name", default: "disco", usage: "Name of the cluster; nodes refuse peers with another name", group: node, typeName: "name")
        eventsRetain = set.int("events-retain", default: 100_000, usage: "Events the cluster keeps; the leader trims the oldest beyond this (0: no limit)", group: node, typeName: "n")
        eventsRetainBytes = set.custom("events-retain-bytes", default: 64 << 20, defaultText: ByteSize.format(64 << 20), typeName: "size",
                                       usage: "Bytes of event data the cluster keeps, e.g. 512KiB, 64MiB, 1GiB;\nthe leader trims the oldest beyond this (0: no limit)",
                                       group: node, parse: { text throws(FlagValueError) in try ByteSize.parse(text) })
        eventsCursorIdle = set.duration("events-cursor-idle", default: .seconds(3600),
                                        usage: "The leader deletes a consumer's cursor no one needs (behind the retained events, or a removed\n"
                                            + "member's) once it has been unchanged for this long (0: keep every cursor)", group: node)

        // MARK: Cluster formation
        let formation = Self.formationGroup
        join = set.custom("join", default: [], defaultText: nil, typeName: "list",
                          usage: "Comma-separated HTTP API addresses of nodes to join, e.g. http://h1:4001,h2:4001\n(http:// optional)",
                          group: formation) { text throws(FlagValueError) in
            do throws(PeerAddressError) {
                return try StaticAddressProvider(parsingJoinList: text).addresses
            } catch {
                throw FlagValueError("\(error)")
            }
        }
        joinAttempts = set.int("join-attempts", default: 5, usage: "Join rounds, each trying every target, before \(programName) gives up and exits 1", group: formation, typeName: "n")
        joinInterval = set.duration("join-interval", default: .seconds(3), usage: "Pause between join rounds", group: formation)
        bootstrapExpect = set.int("bootstrap-expect", default: 0, usage: "Voters, counting this node, to wait for before bootstrapping a new cluster;\n"
                                  + "the same on every node (needs -join, or -disco-mode dns or dns-srv)", group: formation, typeName: "n")
        bootstrapExpectTimeout = set.duration("bootstrap-expect-timeout", default: .seconds(120), usage: "How long a new node waits for -bootstrap-expect voters before it exits 1\n"
                                                  + "(with -consensus etcd, waiting for etcd counts; a node that already has state,\n"
                                                  + "or with etcd records that it is a member, never exits for this)", group: formation)
        clusterConnectTimeout = set.duration("cluster-connect-timeout", default: .seconds(2), usage: "Timeout for one join or notify request to one peer", group: formation)
        reapLearnerTimeout = set.duration("reap-learner-timeout", default: .seconds(3600), usage: "The leader removes a learner (a joiner not yet promoted, or a -raft-non-voter node)\n"
                                                + "that has not answered for this long; 0 never removes one", group: formation)

        // MARK: Discovery
        let discovery = Self.discoveryGroup
        discoMode = set.custom("disco-mode", default: nil, defaultText: nil, typeName: "mode",
                               usage: "Discovery mode: dns or dns-srv (with -bootstrap-expect), consul-kv or etcd-kv",
                               group: discovery) { text throws(FlagValueError) in
            guard let mode = DiscoMode(rawValue: text) else {
                throw FlagValueError("disco mode must be one of \(DiscoMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return mode
        }
        discoKey = set.string("disco-key", default: "disco", usage: "Key prefix of the leader record in Consul (<key>/leader) or etcd (/<key>/leader);\n"
                                + "-disco-key rqlite shares the record rqlite nodes keep", group: discovery, typeName: "key")
        discoConfig = set.string("disco-config", usage: "Discovery configuration: JSON, or the path of a JSON file; $VAR and ${VAR}\n"
                                  + "are expanded, and one that is not set is an error", group: discovery, typeName: "json|path")
        consensus = set.custom("consensus", default: .raft, defaultText: "raft", typeName: "engine",
                               usage: "Consensus engine: raft (embedded) or etcd (state in etcd under /<disco-key>/)",
                               group: Self.formationGroup) { text throws(FlagValueError) in
            guard let engine = ConsensusEngineName(rawValue: text) else { throw FlagValueError("consensus must be raft or etcd") }
            return engine
        }
        consensusConfig = set.string("consensus-config", usage: "With -consensus etcd: etcd's endpoints, credentials and TLS as in etcd-kv's\n"
                                       + "disco-config (JSON or a file; $VAR expanded)", group: Self.formationGroup, typeName: "json|path")

        gossip = GossipFlags(&set, group: Self.gossipGroup)
        roles = RoleFlags(&set, group: Self.rolesGroup)
        // MARK: Access control
        let access = Self.accessGroup
        auth = set.string("auth", usage: "JSON file of users, passwords (plain or hashed) and permissions for the HTTP API;\n"
                          + "without it the API is open to anyone", group: access, typeName: "file")
        joinAs = set.string("join-as", usage: "User in the -auth file whose credentials this node sends to other nodes: its join,\n"
                            + "notify and bootstrap requests and its roles' writes to the leader (needs the join\n"
                            + "permission; its password must be stored plain)", group: access, typeName: "user")

        // MARK: TLS
        let tls = Self.tlsGroup
        httpCert = set.string("http-cert", usage: "PEM certificate (chain, leaf first) of the HTTPS API; with -http-key the API speaks only HTTPS",
                              group: tls, typeName: "path")
        httpKey = set.string("http-key", usage: "PEM private key of -http-cert", group: tls, typeName: "path")
        httpCACert = set.string("http-ca-cert", usage: "PEM CA certificates for API client certificates and other nodes' HTTPS APIs (default: system)",
                                group: tls, typeName: "path")
        httpVerifyClient = set.bool("http-verify-client", usage: "Require API clients to present a certificate signed by -http-ca-cert", group: tls)
        nodeCert = set.string("node-cert", usage: "PEM certificate for TLS on the internode port (Raft, push-pull), shown to peers both ways",
                              group: tls, typeName: "path")
        nodeKey = set.string("node-key", usage: "PEM private key of -node-cert", group: tls, typeName: "path")
        nodeCACert = set.string("node-ca-cert", usage: "PEM CA certificate(s) that sign other nodes' certificates (default: the system's CAs)",
                                group: tls, typeName: "path")
        nodeVerifyClient = set.bool("node-verify-client", usage: "Mutual TLS: refuse internode connections without a certificate signed by -node-ca-cert", group: tls)
        nodeNoVerify = set.bool("node-no-verify", usage: "Do not verify the certificates of the nodes this node connects to (testing only)", group: tls)

        // MARK: Logging
        let logging = Self.loggingGroup
        logLevel = set.custom("log-level", default: .info, defaultText: "info", typeName: "level",
                              usage: "Minimum level: trace, debug, info, notice, warning, error, critical", group: logging,
                              parse: { text throws(FlagValueError) in try Logger.Level(parsing: text) })
        logFormat = set.custom("log-format", default: .text, defaultText: "text", typeName: "format",
                               usage: "Log line format: text (logfmt) or json", group: logging,
                               parse: { text throws(FlagValueError) in try LogFormat(parsing: text) })

        // MARK: Checking
        validate = set.bool("validate", usage: "Check the flags and disco-config exactly as a start would, print the resolved settings\n"
                                + "and exit: 0 when valid, 2 with the error otherwise; opens no data directory, binds no port",
                            group: Self.checkingGroup)
        flagSet = set
    }

    // MARK: Address values

    /// A bind address: `host:port`, or `:port` for every interface; no URL scheme (see
    /// ``AddressFlagValue/parseBind(_:)``).
    @Sendable static func parseBindAddress(_ text: String) throws(FlagValueError) -> PeerAddress {
        try AddressFlagValue.parseBind(text)
    }

    /// An advertised address: `host:port` (a host the others can reach), no URL scheme; empty
    /// for none.
    @Sendable static func parseOptionalAddress(_ text: String) throws(FlagValueError) -> PeerAddress? {
        guard !text.isEmpty else { return nil }
        if text.hasPrefix(":") {
            throw FlagValueError("\(text.debugDescription) has no host: an advertised address names a host the other nodes can reach, "
                + "e.g. 10.0.0.1\(text) or [fd00::1]\(text)")
        }
        let address = try AddressFlagValue.parse(text)
        guard address.scheme == nil else {
            throw FlagValueError("expected host:port without http:// or https://, e.g. localhost:4001")
        }
        return address
    }
}

// MARK: - Listening addresses

extension DiscodFlags {
    /// Where the node will listen, as flag name and address: `-http-addr`, `-raft-addr` (TCP, and
    /// UDP for gossip), and `-dns-addr` with `-roles dns`. A program that listens beside the node
    /// (disco-sidecar's proxy) checks its own addresses against these before anything starts.
    public func nodeListeners(_ parsed: ParsedFlags) -> [(flag: String, address: PeerAddress)] {
        var listeners = [("http-addr", parsed[httpAddr]), ("raft-addr", parsed[raftAddr])]
        if (try? RoleOptions(roles, parsed: parsed))?.performsDNS == true, let dns = try? PeerAddress(parsingListenAddress: parsed[roles.dnsAddr]) {
            listeners.append(("dns-addr", dns))
        }
        return listeners
    }
}
