import DiscoCore
import DiscoSystem
import DiscoSWIM

// MARK: - Command line

/// The agent's flags, parsed and validated before anything is bound.
struct AgentOptions {
    var bindHost = "127.0.0.1"
    var bindPort: UInt16 = 0
    var advertiseHost: String?
    var seeds: [PeerAddress] = []
    var name: NodeID
    var settings = SWIM.Settings()
    var metadata = SWIM.Metadata()
    var logLevel: Logger.Level = .warning
    /// Gossip encryption: a key, or a keyring file (reloaded on SIGHUP and when it changes).
    var encryption: SWIM.GossipEncryption?
    var keyringFile: SWIM.GossipKeyringFile?
    var keyringPollInterval: Duration = .seconds(1)
    /// Put in front of plaintext gossip; plaintext labelled otherwise is dropped (nil: no label).
    var clusterLabel: String?

    static func flagSet() -> (FlagSet, Flags) {
        var set = FlagSet(programName: "disco-swim-agent",
                          synopsis: "Usage: disco-swim-agent -bind host:port [-join host:port,...] [-name ID] [flags]\n\n"
                              + "Runs one SWIM member. Prints READY once bound, then one line per member event:\n"
                              + "  event=<joined|suspect|alive|dead|left|updated> member=<id> address=<host:port> incarnation=<n> t=<monotonic s>\n"
                              + "With -gossip-key or -gossip-keyring all gossip is sealed with AES-256-GCM; SIGHUP reloads\n"
                              + "the keyring file (prints KEYRING <outcome>), as does a change to it. SIGUSR1 prints STATS.\n"
                              + "SIGTERM or SIGINT: leave gracefully, print STATS and LEFT, exit 0.")
        let defaults = SWIM.Settings()
        let flags = Flags(
            bind: set.custom("bind", default: BindAddress(host: "127.0.0.1", port: 0), defaultText: "127.0.0.1:0", typeName: "host:port",
                             usage: "UDP (and push-pull TCP) address; port 0 picks a free one") { text throws(FlagValueError) in
                try parseBind(text)
            },
            advertise: set.string("advertise", usage: "host other members reach this one at (default: the bound address)",
                                  typeName: "host"),
            join: set.custom("join", default: [PeerAddress](), defaultText: nil, typeName: "host:port,...",
                             usage: "SWIM addresses of members to join through") { text throws(FlagValueError) in
                try parseSeeds(text)
            },
            name: set.string("name", usage: "member ID (default agent-<pid>)", typeName: "id"),
            probeInterval: set.duration("probe-interval", default: defaults.probeInterval, usage: "protocol period"),
            probeTimeout: set.duration("probe-timeout", default: defaults.probeTimeout, usage: "direct probe timeout"),
            gossipInterval: set.duration("gossip-interval", default: defaults.gossipInterval, usage: "gossip round interval"),
            pushPullInterval: set.duration("push-pull-interval", default: defaults.pushPullInterval,
                                           usage: "full-state sync interval"),
            reconnectInterval: set.duration("reconnect-interval", default: defaults.reconnectInterval,
                                            usage: "re-contact interval of seeds and dead members"),
            suspicionMultiplier: set.int("suspicion-mult", default: Int(defaults.suspicionMultiplier),
                                         usage: "alpha: minimum suspicion timeout in probe intervals (times log10 n)"),
            apiAddress: set.string("api-addr", usage: "HTTP API address announced in metadata", typeName: "host:port"),
            roles: set.string("roles", usage: "comma-separated roles announced in metadata", typeName: "list"),
            gossipKey: set.string("gossip-key", usage: "base64 of a 32-byte key that seals all gossip", typeName: "base64"),
            gossipKeyring: set.string("gossip-keyring", usage: "keyring file: {\"primary\": key, \"accepted\": [key, ...]}", typeName: "path"),
            gossipLabel: set.string("gossip-label", default: "disco",
                                    usage: "cluster label: bound into sealed gossip, in front of plaintext gossip (discod: the cluster name); "
                                        + "empty: none", typeName: "label"),
            verifyIncoming: set.bool("gossip-verify-incoming", default: true, usage: "refuse plaintext gossip (false: accept it too)"),
            verifyOutgoing: set.bool("gossip-verify-outgoing", default: true, usage: "seal what is sent (false: send plaintext)"),
            keyringPoll: set.duration("gossip-keyring-poll", default: .seconds(1), usage: "how often the keyring file is checked (0: only on SIGHUP)"),
            logLevel: set.custom("log-level", default: Logger.Level.warning, defaultText: "warning", typeName: "level",
                                 usage: "shell log level on stderr") { text throws(FlagValueError) in
                try Logger.Level(parsing: text)
            }
        )
        return (set, flags)
    }

    struct BindAddress: Sendable {
        var host: String
        var port: UInt16
    }

    struct Flags {
        var bind: Flag<BindAddress>
        var advertise: Flag<String>
        var join: Flag<[PeerAddress]>
        var name: Flag<String>
        var probeInterval: Flag<Duration>
        var probeTimeout: Flag<Duration>
        var gossipInterval: Flag<Duration>
        var pushPullInterval: Flag<Duration>
        var reconnectInterval: Flag<Duration>
        var suspicionMultiplier: Flag<Int>
        var apiAddress: Flag<String>
        var roles: Flag<String>
        var gossipKey: Flag<String>
        var gossipKeyring: Flag<String>
        var gossipLabel: Flag<String>
        var verifyIncoming: Flag<Bool>
        var verifyOutgoing: Flag<Bool>
        var keyringPoll: Flag<Duration>
        var logLevel: Flag<Logger.Level>
    }

    /// Parses `arguments`; a bad flag or value exits 2 with a message naming it.
    static func parse(_ arguments: [String], pid: Int32) -> AgentOptions {
        let (set, flags) = flagSet()
        let parsed: ParsedFlags
        do {
            parsed = try set.parse(arguments)
        } catch {
            CommandLineTool.fail(error, flagSet: set)
        }
        func usageError(_ message: String) -> Never {
            CommandLineTool.writeStandardError("disco-swim-agent: \(message)\n\(set.usageHint)\n")
            CommandLineTool.exit(2)
        }
        guard parsed.positionals.isEmpty else { usageError("unexpected argument \(parsed.positionals[0].debugDescription)") }
        let nameText = parsed[flags.name].isEmpty ? "agent-\(pid)" : parsed[flags.name]
        guard let name = NodeID(nameText) else { usageError("invalid value \(nameText.debugDescription) for -name: not a valid node ID") }
        var options = AgentOptions(name: name)
        options.bindHost = parsed[flags.bind].host
        options.bindPort = parsed[flags.bind].port
        options.advertiseHost = parsed[flags.advertise].isEmpty ? nil : parsed[flags.advertise]
        options.seeds = parsed[flags.join]
        options.settings.probeInterval = parsed[flags.probeInterval]
        options.settings.probeTimeout = parsed[flags.probeTimeout]
        options.settings.gossipInterval = parsed[flags.gossipInterval]
        options.settings.pushPullInterval = parsed[flags.pushPullInterval]
        options.settings.reconnectInterval = parsed[flags.reconnectInterval]
        options.settings.suspicionMultiplier = Double(parsed[flags.suspicionMultiplier])
        options.logLevel = parsed[flags.logLevel]
        if !parsed[flags.apiAddress].isEmpty {
            do {
                options.metadata.apiAddress = try PeerAddress(parsing: parsed[flags.apiAddress])
            } catch {
                usageError("invalid value \(parsed[flags.apiAddress].debugDescription) for -api-addr: \(error.reason)")
            }
        }
        options.metadata.roles = parsed[flags.roles].split(separator: ",").map(String.init)
        let keyText = parsed[flags.gossipKey], keyringPath = parsed[flags.gossipKeyring]
        let keyring: GossipKeyring?
        switch (keyText.isEmpty, keyringPath.isEmpty) {
        case (false, false):
            usageError("-gossip-key and -gossip-keyring cannot be used together; give one")
        case (false, true):
            do throws(GossipKeyError) {
                keyring = GossipKeyring(primary: try GossipKey(base64: keyText))
            } catch {
                usageError("invalid value for -gossip-key: \(error)")
            }
        case (true, false):
            do throws(ConfigError) {
                let logger = Logger(label: "swim", level: options.logLevel, handler: LogfmtHandler())
                let file = try SWIM.GossipKeyringFile(path: keyringPath, logger: logger)
                options.keyringFile = file
                keyring = file.keyring
            } catch {
                usageError("invalid value for -gossip-keyring: \(error)")
            }
        case (true, true):
            keyring = nil
        }
        if let keyring {
            options.encryption = SWIM.GossipEncryption(keyring: keyring, label: parsed[flags.gossipLabel],
                                                       verifyIncoming: parsed[flags.verifyIncoming],
                                                       verifyOutgoing: parsed[flags.verifyOutgoing])
        }
        options.keyringPollInterval = parsed[flags.keyringPoll]
        options.clusterLabel = parsed[flags.gossipLabel].isEmpty ? nil : parsed[flags.gossipLabel]
        do {
            try options.settings.validate()
        } catch {
            usageError(error.description)
        }
        return options
    }

    static func parseBind(_ text: String) throws(FlagValueError) -> BindAddress {
        do {
            if text.hasSuffix(":0") {
                return BindAddress(host: try PeerAddress(parsing: String(text.dropLast(2)), defaultPort: 1).host, port: 0)
            }
            let address = try PeerAddress(parsing: text)
            guard address.scheme == nil else { throw FlagValueError("expected host:port without a scheme") }
            return BindAddress(host: address.host, port: address.port)
        } catch let error as PeerAddressError {
            throw FlagValueError("\(error.reason); expected host:port such as 127.0.0.1:7946 (port 0 for any)")
        } catch let error as FlagValueError {
            throw error
        } catch {
            throw FlagValueError("\(error)")
        }
    }

    static func parseSeeds(_ text: String) throws(FlagValueError) -> [PeerAddress] {
        var seeds: [PeerAddress] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: true) {
            do {
                seeds.append(try PeerAddress(parsing: String(item)))
            } catch {
                throw FlagValueError("\(String(item).debugDescription): \(error.reason); expected host:port,...")
            }
        }
        return seeds
    }
}
