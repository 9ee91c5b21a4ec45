import DiscoCore
import NodeRuntime

// MARK: - DiscodOptions

/// Everything `discod` was asked to do, parsed and validated before anything touches the disk
/// or the network. Build with ``parse(_:loader:)``.
public struct DiscodOptions: Sendable {
    public var nodeID: NodeID
    /// Whether `-node-id` was given (otherwise the ID is the advertised Raft address).
    public var nodeIDWasGiven: Bool
    public var httpAddress: PeerAddress
    public var httpAdvertisedAddress: PeerAddress
    public var raftAddress: PeerAddress
    public var raftAdvertisedAddress: PeerAddress
    public var raftNonVoter: Bool
    public var clusterName: String
    /// `-events-retain`: how many events the leader keeps (0: no count limit).
    public var eventsRetain: Int
    /// `-events-retain-bytes`: how much event data the leader keeps (0: no size limit).
    public var eventsRetainBytes: Int
    /// `-events-cursor-idle`: how long a cursor no consumer needs stays unchanged before the
    /// leader deletes it (zero: never).
    public var eventsCursorIdle: Duration
    /// `-join` targets (HTTP API addresses), de-duplicated in order.
    public var join: [PeerAddress]
    public var joinAttempts: Int
    public var joinInterval: Duration
    public var bootstrapExpect: Int
    public var bootstrapExpectTimeout: Duration
    public var clusterConnectTimeout: Duration
    /// `-reap-learner-timeout`: the leader removes a learner silent for this long (zero: never).
    public var reapLearnerTimeout: Duration
    public var discoMode: DiscoMode?
    public var discoKey: String
    /// The validated disco-config for ``discoMode`` (defaults applied when none was given).
    public var discoConfig: DiscoConfig?
    /// `-consensus etcd` with `-consensus-config`: the etcd settings (nil: embedded Raft).
    public var consensusEtcd: EtcdKVConfig?
    /// Gossip encryption from `-gossip-key` or `-gossip-keyring` (nil: plaintext gossip).
    public var gossipEncryption: GossipEncryptionOptions?
    /// `-roles`, `-requires`, `-bootstrap-needs` and the dns role's `-dns-*` flags.
    public var roles: RoleOptions
    /// `-auth`: who may use the HTTP API (nil: everyone may do everything).
    public var auth: AuthFile?
    /// `-join-as`: the user (with a plain password in ``auth``) this node authenticates as.
    public var joinAs: AuthUser?
    /// `-http-cert`, `-http-key`, `-http-ca-cert`, `-http-verify-client`.
    public var httpTLS: TLSFiles
    /// `-node-cert`, `-node-key`, `-node-ca-cert`, `-node-verify-client`.
    public var nodeTLS: TLSFiles
    /// `-node-no-verify`: peers' internode certificates are not verified.
    public var nodeNoVerify: Bool
    /// The TLS contexts loaded from the files above (by ``NodeCommand``), if they were.
    public var loadedTLS: NodeTLS?
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// The data directory as given (not yet made absolute, not yet created).
    public var dataDirectory: String
    /// `-validate`: check everything a start checks, then exit without starting.
    public var validateOnly: Bool

    /// discod's formation policy: which plan the flags ask for (before any state on disk is
    /// considered).
    public var formationPlan: FormationPlan {
        if let discoMode { return discoMode.usesKeyValueStore ? .keyValueRegistration : .bootstrapExpect }
        if join.isEmpty { return .singleNode }
        return bootstrapExpect > 0 ? .bootstrapExpect : .join
    }

    // MARK: Parsing

    /// Parses and validates a command line (without the program name), reading `-disco-config`
    /// through `loader` (`.system` in DiscoSystem reads the real environment and files).
    public static func parse(_ arguments: [String], loader: DiscoConfigLoader) throws(FlagError) -> DiscodOptions {
        let flags = DiscodFlags()
        let parsed = try flags.flagSet.parse(arguments)
        return try DiscodOptions(flags: flags, parsed: parsed, loader: loader)
    }

    /// Reads and checks discod's flags from a parsed command line (`flags.flagSet` parsed it,
    /// perhaps with another executable's flags added).
    public init(flags: DiscodFlags, parsed: ParsedFlags, loader: DiscoConfigLoader) throws(FlagError) {
        // Positional: exactly one data directory.
        guard let directory = parsed.positionals.first else {
            throw FlagError.badArguments("missing required argument: data directory (usage: \(flags.flagSet.programName) [flags] <data-dir>)")
        }
        guard parsed.positionals.count == 1 else {
            let rest = parsed.positionals.dropFirst().joined(separator: " ")
            var message = "arguments after data directory (\(rest)) are not accepted"
            if parsed.positionals.dropFirst().contains(where: { $0.hasPrefix("-") }) {
                message += "; flags must come before the data directory"
            }
            // `-raft-non-voter false data`: the value of a boolean flag goes after '='.
            if GoValueParsing.parseBool(directory) != nil, let flag = flags.flagSet.booleanFlagNames.first(where: { parsed.isSet($0) }) {
                message += "; \(directory.debugDescription) was taken as the data directory: a boolean flag takes its value after '=', "
                    + "as in -\(flag)=\(directory)"
            }
            throw FlagError.badArguments(message)
        }
        guard !directory.isEmpty else { throw FlagError.badArguments("data directory must not be empty") }
        dataDirectory = directory

        // Addresses.
        httpAddress = parsed[flags.httpAddr]
        raftAddress = parsed[flags.raftAddr]
        httpAdvertisedAddress = parsed[flags.httpAdvAddr] ?? httpAddress
        raftAdvertisedAddress = parsed[flags.raftAdvAddr] ?? raftAddress
        guard !httpAddress.listensOnSamePort(as: raftAddress) else {
            throw FlagError.conflict("raft-addr", httpAddress == raftAddress
                ? "-http-addr and -raft-addr must differ (both are \(httpAddress))"
                : "-http-addr \(httpAddress) and -raft-addr \(raftAddress) would both listen on port \(raftAddress.port); give them different ports")
        }
        try Self.checkRoutable(httpAdvertisedAddress, flag: "http-adv-addr", given: parsed[flags.httpAdvAddr] != nil, bindFlag: "http-addr", what: "HTTP")
        try Self.checkRoutable(raftAdvertisedAddress, flag: "raft-adv-addr", given: parsed[flags.raftAdvAddr] != nil, bindFlag: "raft-addr", what: "Raft")
        guard httpAdvertisedAddress != raftAdvertisedAddress else {
            throw FlagError.conflict("raft-adv-addr", "the advertised HTTP and Raft addresses must differ (both are \(httpAdvertisedAddress))")
        }

        // Identity.
        let idText = parsed[flags.nodeID]
        nodeIDWasGiven = !idText.isEmpty
        if nodeIDWasGiven {
            guard let id = NodeID(idText), idText.utf8.count <= Self.maxClusterNameBytes else {
                throw FlagError.invalid("node-id", "\(idText.debugDescription) is not a valid node ID (non-empty, at most \(Self.maxClusterNameBytes) bytes, "
                    + "no whitespace or control characters)")
            }
            if let problem = id.reservationProblem { throw FlagError.invalid("node-id", problem) }
            nodeID = id
        } else {
            guard let id = NodeID(raftAdvertisedAddress.description) else {
                throw FlagError.invalid("node-id", "cannot default to the advertised Raft address \(raftAdvertisedAddress); set -node-id")
            }
            nodeID = id
        }
        clusterName = parsed[flags.clusterName]
        guard NodeID.isValid(clusterName), clusterName.utf8.count <= Self.maxClusterNameBytes else {
            throw FlagError.invalid("cluster-name", "\(clusterName.debugDescription) is not a valid name "
                + "(non-empty, at most \(Self.maxClusterNameBytes) bytes, no whitespace or control characters)")
        }
        raftNonVoter = parsed[flags.raftNonVoter]
        eventsRetain = parsed[flags.eventsRetain]
        eventsRetainBytes = parsed[flags.eventsRetainBytes]
        guard eventsRetain >= 0 else {
            throw FlagError.invalid("events-retain", "must be 0 (no count limit) or the number of events to keep, got \(eventsRetain)")
        }
        eventsCursorIdle = parsed[flags.eventsCursorIdle]
        guard eventsCursorIdle >= .zero else {
            throw FlagError.invalid("events-cursor-idle", "must be 0 (keep every cursor) or a duration such as 1h, got \(GoDuration.format(eventsCursorIdle))")
        }

        // Formation values.
        join = parsed[flags.join]
        joinAttempts = parsed[flags.joinAttempts]
        joinInterval = parsed[flags.joinInterval]
        bootstrapExpect = parsed[flags.bootstrapExpect]
        bootstrapExpectTimeout = parsed[flags.bootstrapExpectTimeout]
        clusterConnectTimeout = parsed[flags.clusterConnectTimeout]
        reapLearnerTimeout = parsed[flags.reapLearnerTimeout]
        guard joinAttempts >= 1 else { throw FlagError.invalid("join-attempts", "must be at least 1, got \(joinAttempts)") }
        guard joinInterval >= .zero else { throw FlagError.invalid("join-interval", "must not be negative") }
        guard bootstrapExpect >= 0 else {
            throw FlagError.invalid("bootstrap-expect", "must be 0 (off) or the number of voters to wait for, got \(bootstrapExpect)")
        }
        guard bootstrapExpectTimeout > .zero else { throw FlagError.invalid("bootstrap-expect-timeout", "must be positive") }
        guard clusterConnectTimeout > .zero else { throw FlagError.invalid("cluster-connect-timeout", "must be positive") }
        guard reapLearnerTimeout == .zero || reapLearnerTimeout >= .seconds(1) else {
            throw FlagError.invalid("reap-learner-timeout", "must be 0 (never reap) or at least 1s, got \(GoDuration.format(reapLearnerTimeout)); "
                + "a learner is removed once it has not answered the leader for this long")
        }

        // Discovery values.
        discoMode = parsed[flags.discoMode]
        discoKey = parsed[flags.discoKey]
        if let problem = Self.discoKeyProblem(discoKey) { throw FlagError.invalid("disco-key", problem) }
        logLevel = parsed[flags.logLevel]
        logFormat = parsed[flags.logFormat]
        validateOnly = parsed[flags.validate]

        roles = try RoleOptions(flags.roles, parsed: parsed)
        // TLS files (checked for existence and content by the node, before it starts). Given but
        // empty, as gossip's key, is an error: it would silently mean no TLS (or no access control).
        for (flag, without) in [(flags.httpCert, "plain HTTP"), (flags.httpKey, "plain HTTP"), (flags.httpCACert, "the system's CAs"),
                                (flags.nodeCert, "plaintext internode traffic"), (flags.nodeKey, "plaintext internode traffic"),
                                (flags.nodeCACert, "the system's CAs"), (flags.auth, "an API open to anyone")] {
            try parsed.requireNonEmpty(flag, without: without)
        }
        httpTLS = TLSFiles(certificate: parsed[flags.httpCert], key: parsed[flags.httpKey], caCertificate: parsed[flags.httpCACert],
                           verifyClient: parsed[flags.httpVerifyClient])
        nodeTLS = TLSFiles(certificate: parsed[flags.nodeCert], key: parsed[flags.nodeKey], caCertificate: parsed[flags.nodeCACert],
                           verifyClient: parsed[flags.nodeVerifyClient])
        nodeNoVerify = parsed[flags.nodeNoVerify]
        try httpTLS.validate(prefix: "http")
        try nodeTLS.validate(prefix: "node")
        if nodeNoVerify, nodeTLS.certificate == nil {
            throw FlagError.conflict("node-no-verify", "-node-no-verify applies to TLS on the internode port; set -node-cert and -node-key as well")
        }
        if nodeTLS.caCertificate != nil, nodeTLS.certificate == nil {
            throw FlagError.conflict("node-ca-cert", "-node-ca-cert is used with TLS on the internode port; set -node-cert and -node-key as well")
        }

        try validateCombinations()
        (auth, joinAs) = try Self.loadAuth(file: parsed[flags.auth], joinAs: parsed[flags.joinAs], loader: loader)

        // Files last: the keyring and disco-config may be read.
        gossipEncryption = try GossipEncryptionOptions(flags.gossip, parsed: parsed, loader: loader)
        let consensusText = parsed[flags.consensusConfig]
        switch parsed[flags.consensus] {
        case .raft:
            guard consensusText.isEmpty else { throw FlagError.conflict("consensus-config", "-consensus-config needs -consensus etcd") }
            consensusEtcd = nil
        case .etcd:
            let loaded: DiscoConfig
            do throws(ConfigError) {
                loaded = consensusText.isEmpty ? try DiscoConfig.decode(mode: .etcdKV, json: nil) : try loader.load(consensusText, mode: .etcdKV)
            } catch {
                throw FlagError(code: .invalidValue, flag: "consensus-config", message: "invalid value for flag -consensus-config: \(error)")
            }
            guard case .etcdKV(var etcd) = loaded else {
                throw FlagError(code: .invalidValue, flag: "consensus-config", message: "-consensus-config is not an etcd configuration")
            }
            etcd.tls?.origin = "-consensus-config"
            consensusEtcd = etcd
        }
        let configText = parsed[flags.discoConfig]
        if let discoMode {
            do throws(ConfigError) {
                discoConfig = try loader.config(configText, mode: discoMode)
            } catch {
                // A CONSUL_* variable's error names the variable: the flag may not even be given.
                throw FlagError(code: .invalidValue, flag: "disco-config",
                                message: error.isAboutConsulEnvironment ? "\(error)" : "invalid value for flag -disco-config: \(error)")
            }
        } else {
            guard configText.isEmpty else {
                throw FlagError.conflict("disco-config", "-disco-config needs -disco-mode (dns, dns-srv, consul-kv or etcd-kv)")
            }
            discoConfig = nil
        }
    }

    // MARK: Access control

    /// Reads and checks `-auth` and `-join-as`.
    static func loadAuth(file: String, joinAs name: String, loader: DiscoConfigLoader) throws(FlagError) -> (AuthFile?, AuthUser?) {
        guard !file.isEmpty else {
            guard name.isEmpty else {
                throw FlagError.conflict("join-as", "-join-as \(name) needs -auth: the user's password is read from the auth file")
            }
            return (nil, nil)
        }
        let bytes: [UInt8]?
        do throws(ProcessEnvironment.FileError) {
            bytes = try loader.readFile(file)
        } catch {
            throw FlagError.invalid("auth", "cannot read auth file \(file.debugDescription): \(error)")
        }
        guard let bytes else {
            throw FlagError.invalid("auth", "auth file \(file.debugDescription) does not exist; give the path of a JSON file of users")
        }
        let auth: AuthFile
        do throws(AuthFileError) {
            auth = try AuthFile.parse(bytes, path: file)
        } catch {
            throw FlagError.invalid("auth", "\(error)")
        }
        guard !name.isEmpty else { return (auth, nil) }
        guard let user = auth.user(name), !user.isAnyone else {
            throw FlagError.invalid("join-as", "user \(name.debugDescription) is not in the auth file \(file.debugDescription); "
                + "-join-as names a user of -auth (with the join permission)")
        }
        guard case .plain? = user.password else {
            throw FlagError.invalid("join-as", "the auth file stores a hash for user \(name.debugDescription), so this node cannot send its password; "
                + "store that user's password plain (keep the file readable only by the user this node runs as)")
        }
        return (auth, user)
    }

    // MARK: Validation

    /// The longest `-cluster-name` and `-node-id`: NodeRuntime's `ClusterLimits.maxNameBytes`
    /// (the cluster's records hold no longer name; a test checks they agree).
    public static let maxClusterNameBytes = 255

    /// Why `key` cannot be a `-disco-key` (nil when it can), for discod and `discoctl lookup` alike.
    public static func discoKeyProblem(_ key: String) -> String? {
        guard NodeID.isValid(key), !key.hasPrefix("/"), !key.hasSuffix("/") else {
            return "\(key.debugDescription) is not a valid key prefix (non-empty, no whitespace, no leading or trailing '/')"
        }
        return nil
    }

    static func checkRoutable(_ address: PeerAddress, flag: String, given: Bool, bindFlag: String, what: String) throws(FlagError) {
        guard address.listensOnEveryInterface else { return }
        let origin = given ? "" : " (it defaults to -\(bindFlag))"
        throw FlagError.invalid(flag, "advertised \(what) address \(address) is not routable\(origin); set -\(flag) to an address other nodes can reach")
    }

    /// rqlite's combination rules, each naming the flags involved.
    func validateCombinations() throws(FlagError) {
        if bootstrapExpect > 0, raftNonVoter {
            throw FlagError.conflict("bootstrap-expect", "-bootstrap-expect applies only to voting nodes; drop it or -raft-non-voter")
        }
        if !join.isEmpty, let discoMode {
            throw FlagError.conflict("join", "-join cannot be used with -disco-mode \(discoMode): discovery finds the peers; use one or the other")
        }
        if !join.isEmpty, bootstrapExpect == 0 {
            let own = [httpAdvertisedAddress.withoutScheme, httpAddress.withoutScheme]
            if let selfTarget = join.first(where: { own.contains($0.withoutScheme) }) {
                throw FlagError.conflict("join", "node cannot join itself unless bootstrapping: -join contains this node's own HTTP address \(selfTarget); set -bootstrap-expect to form a new cluster from a list that includes this node")
            }
        }
        if let discoMode, discoMode.usesKeyValueStore, bootstrapExpect > 0 {
            throw FlagError.conflict("bootstrap-expect", "-bootstrap-expect is not used with -disco-mode \(discoMode): the first voter to claim the leader key bootstraps the cluster")
        }
        if let discoMode, !discoMode.usesKeyValueStore, !raftNonVoter, bootstrapExpect == 0 {
            throw FlagError.conflict("bootstrap-expect", "-disco-mode \(discoMode) needs -bootstrap-expect on a voting node (the number of voters to wait for)")
        }
        if bootstrapExpect > 1, join.isEmpty, discoMode == nil {
            throw FlagError.conflict("bootstrap-expect", "-bootstrap-expect \(bootstrapExpect) needs -join or -disco-mode dns/dns-srv to find the other nodes")
        }
    }

    // MARK: Logging

    /// The resolved options as log metadata.
    public var metadata: Logger.Metadata {
        var metadata: Logger.Metadata = [
            "node_id": .string(nodeID.rawValue),
            "http_addr": .string(httpAddress.listenDescription),
            "http_adv_addr": .string(httpAdvertisedAddress.description),
            "raft_addr": .string(raftAddress.listenDescription),
            "raft_adv_addr": .string(raftAdvertisedAddress.description),
            "voter": .string(raftNonVoter ? "false" : "true"),
            "cluster": .string(clusterName),
            "formation": .string(formationPlan.description),
            "data_dir": .string(dataDirectory),
        ]
        if !join.isEmpty { metadata["join"] = .array(join.map { .string($0.scheme == nil ? $0.description : $0.url) }) }
        if let auth { metadata["auth"] = .string("\(auth.path) (\(auth.users.count) users)") }
        if let joinAs { metadata["join_as"] = .string(joinAs.username) }
        if bootstrapExpect > 0 {
            metadata["bootstrap_expect"] = .string(String(bootstrapExpect))
            metadata["bootstrap_expect_timeout"] = .string(GoDuration.format(bootstrapExpectTimeout))
        }
        if let discoMode {
            metadata["disco_mode"] = .string(discoMode.rawValue)
            if discoMode.usesKeyValueStore { metadata["disco_key"] = .string(discoKey) }
        }
        if let consensusEtcd {
            metadata["consensus"] = .string("etcd " + consensusEtcd.endpointURLs.joined(separator: ",") + " under /\(discoKey)/")
            if let tls = consensusEtcd.tls {
                metadata["consensus_tls"] = .string(tls.certFile != nil ? "client certificate" : (tls.insecureSkipVerify ? "on, etcd not verified" : "on"))
            }
        } else {
            metadata["consensus"] = .string("raft")
        }
        if let gossipEncryption { metadata["gossip_encryption"] = .string(gossipEncryption.summary) }
        if httpTLS.isEnabled { metadata["http_tls"] = .string(httpTLS.verifyClient ? "mutual" : "on") }
        if nodeTLS.isEnabled { metadata["node_tls"] = .string(nodeTLS.verifyClient ? "mutual" : (nodeNoVerify ? "on, peers not verified" : "on")) }
        metadata.merge(roles.metadata) { _, roles in roles }
        return metadata
    }
}

// MARK: - TLS files

// MARK: - TLS flag checks

extension TLSFiles {
    /// Both or neither of the certificate and key; client verification needs TLS and a CA.
    func validate(prefix: String) throws(FlagError) {
        if certificate != nil, key == nil {
            throw FlagError.conflict("\(prefix)-key", "-\(prefix)-cert needs -\(prefix)-key (the certificate's private key)")
        }
        if key != nil, certificate == nil {
            throw FlagError.conflict("\(prefix)-cert", "-\(prefix)-key needs -\(prefix)-cert (the certificate it belongs to)")
        }
        if verifyClient, certificate == nil {
            throw FlagError.conflict("\(prefix)-verify-client", "-\(prefix)-verify-client needs TLS: set -\(prefix)-cert and -\(prefix)-key")
        }
        if verifyClient, caCertificate == nil {
            throw FlagError.conflict("\(prefix)-verify-client",
                                     "-\(prefix)-verify-client needs -\(prefix)-ca-cert (the CA that signs the certificates to accept)")
        }
    }
}
