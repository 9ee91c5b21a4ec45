// MARK: - DiscodFlags

/// The flags of `discod [flags] <data-dir>`, declared once so the daemon, its help text and
/// tests agree. Names, defaults and meanings follow rqlited where rqlited has the flag.
public struct DiscodFlags: Sendable {
    public static let nodeGroup = "Node"
    public static let formationGroup = "Cluster formation"
    public static let discoveryGroup = "Discovery"
    public static let tlsGroup = "TLS"
    public static let loggingGroup = "Logging"

    /// The declared flag set (print ``FlagSet/usage()`` for help).
    public private(set) var flagSet: FlagSet

    let nodeID: Flag<String>
    let httpAddr: Flag<PeerAddress>
    let httpAdvAddr: Flag<PeerAddress?>
    let raftAddr: Flag<PeerAddress>
    let raftAdvAddr: Flag<PeerAddress?>
    let raftNonVoter: Flag<Bool>
    let clusterName: Flag<String>
    let eventsRetain: Flag<Int>
    let eventsRetainBytes: Flag<Int>
    let join: Flag<[PeerAddress]>
    let joinAttempts: Flag<Int>
    let joinInterval: Flag<Duration>
    let bootstrapExpect: Flag<Int>
    let bootstrapExpectTimeout: Flag<Duration>
    let clusterConnectTimeout: Flag<Duration>
    let discoMode: Flag<DiscoMode?>
    let discoKey: Flag<String>
    let discoConfig: Flag<String>
    let httpCert: Flag<String>
    let httpKey: Flag<String>
    let httpCACert: Flag<String>
    let httpVerifyClient: Flag<Bool>
    let nodeCert: Flag<String>
    let nodeKey: Flag<String>
    let nodeCACert: Flag<String>
    let nodeVerifyClient: Flag<Bool>
    let nodeNoVerify: Flag<Bool>
    let logLevel: Flag<Logger.Level>
    let logFormat: Flag<LogFormat>

    public init() {
        var set = FlagSet(
            programName: "discod",
            synopsis: "Usage: discod [flags] <data-dir>\n\nRuns a Disco node. All flags must come before the data directory.",
            epilogue: "Durations are written like 300ms, 1.5s, 2m or 1h2m3.5s.")

        // MARK: Node
        let node = Self.nodeGroup
        nodeID = set.string("node-id", usage: "Unique, permanent ID of this node (default: the advertised Raft address)", group: node, typeName: "id")
        httpAddr = set.custom("http-addr", default: PeerAddress(host: "localhost", port: 4001), defaultText: "\"localhost:4001\"",
                              typeName: "host:port", usage: "HTTP API bind address (clients, operators, join and notify)",
                              group: node, parse: Self.parseBindAddress)
        httpAdvAddr = set.custom("http-adv-addr", default: nil, defaultText: nil, typeName: "host:port",
                                 usage: "Advertised HTTP API address (default: -http-addr)", group: node,
                                 parse: Self.parseOptionalAddress)
        raftAddr = set.custom("raft-addr", default: PeerAddress(host: "localhost", port: 4002), defaultText: "\"localhost:4002\"",
                              typeName: "host:port", usage: "Internode bind address: Raft over TCP, gossip over UDP on the same port",
                              group: node, parse: Self.parseBindAddress)
        raftAdvAddr = set.custom("raft-adv-addr", default: nil, defaultText: nil, typeName: "host:port",
                                 usage: "Advertised internode address (default: -raft-addr)", group: node,
                                 parse: Self.parseOptionalAddress)
        raftNonVoter = set.bool("raft-non-voter", usage: "Run as a read-only member that never votes and never bootstraps", group: node)
        clusterName = set.string("cluster-name", default: "disco", usage: "Name of the cluster; nodes refuse peers with another name", group: node, typeName: "name")
        eventsRetain = set.int("events-retain", default: 100_000, usage: "Events the cluster keeps; the leader trims the oldest beyond this (0: no count limit)", group: node, typeName: "n")
        eventsRetainBytes = set.custom("events-retain-bytes", default: 64 << 20, defaultText: ByteSize.format(64 << 20), typeName: "size",
                                       usage: "Event data the cluster keeps, e.g. 512KiB, 64MiB, 1GiB; the leader trims the oldest beyond this (0: no size limit)",
                                       group: node, parse: { text throws(FlagValueError) in try ByteSize.parse(text) })

        // MARK: Cluster formation
        let formation = Self.formationGroup
        join = set.custom("join", default: [], defaultText: nil, typeName: "list",
                          usage: "Comma-separated HTTP API addresses of nodes to join, e.g. http://h1:4001,h2:4001 (scheme optional)",
                          group: formation) { text throws(FlagValueError) in
            do throws(PeerAddressError) {
                return try StaticAddressProvider(parsingJoinList: text).addresses
            } catch {
                throw FlagValueError("\(error)")
            }
        }
        joinAttempts = set.int("join-attempts", default: 5, usage: "Join attempts per target before giving up", group: formation, typeName: "n")
        joinInterval = set.duration("join-interval", default: .seconds(3), usage: "Pause between join attempts", group: formation)
        bootstrapExpect = set.int("bootstrap-expect", default: 0, usage: "Number of voters, counting this node, to wait for before bootstrapping a new cluster (same value on every node)", group: formation, typeName: "n")
        bootstrapExpectTimeout = set.duration("bootstrap-expect-timeout", default: .seconds(120), usage: "How long to wait for -bootstrap-expect voters", group: formation)
        clusterConnectTimeout = set.duration("cluster-connect-timeout", default: .seconds(2), usage: "Timeout for connecting to one peer during join and notify", group: formation)

        // MARK: Discovery
        let discovery = Self.discoveryGroup
        discoMode = set.custom("disco-mode", default: nil, defaultText: nil, typeName: "mode",
                               usage: "Discovery mode: dns, dns-srv, consul-kv or etcd-kv", group: discovery) { text throws(FlagValueError) in
            guard let mode = DiscoMode(rawValue: text) else {
                throw FlagValueError("disco mode must be one of \(DiscoMode.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return mode
        }
        discoKey = set.string("disco-key", default: "disco", usage: "Key prefix in Consul (<key>/leader) or etcd (/<key>/leader); use rqlite to share rqlite's key", group: discovery, typeName: "key")
        discoConfig = set.string("disco-config", usage: "Discovery configuration: JSON, or the path of a JSON file; $VAR and ${VAR} are expanded", group: discovery, typeName: "json|path")

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
        flagSet = set
    }

    // MARK: Address values

    /// A bind address: `host:port`, no URL scheme (rqlite: "must not start with http").
    @Sendable static func parseBindAddress(_ text: String) throws(FlagValueError) -> PeerAddress {
        let address: PeerAddress
        do throws(PeerAddressError) {
            address = try PeerAddress(parsing: text)
        } catch {
            throw FlagValueError("\(error)")
        }
        guard address.scheme == nil else {
            throw FlagValueError("expected host:port without http:// or https://, e.g. localhost:4001")
        }
        return address
    }

    @Sendable static func parseOptionalAddress(_ text: String) throws(FlagValueError) -> PeerAddress? {
        text.isEmpty ? nil : try parseBindAddress(text)
    }
}
