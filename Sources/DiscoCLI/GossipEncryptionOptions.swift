import DiscoCore

// MARK: - Gossip encryption flags

/// discod's gossip encryption flags: a shared key, or a keyring file for rotation, and serf's
/// two switches for migrating a running cluster from plaintext.
struct GossipFlags: Sendable {
    let key: Flag<String>
    let keyring: Flag<String>
    let verifyIncoming: Flag<Bool>
    let verifyOutgoing: Flag<Bool>

    init(_ set: inout FlagSet, group: String) {
        key = set.string("gossip-key", usage: "Seal all gossip (SWIM over UDP and push-pull over TCP) and Raft frames with\n"
                         + "AES-256-GCM under this key: base64 of 32 bytes, e.g. from `openssl rand -base64 32`;\n"
                         + "the same on every node",
                         group: group, typeName: "base64")
        keyring = set.string("gossip-keyring", usage: "Like -gossip-key, from a keyring file for rotation:\n"
                             + "{\"primary\": \"<key>\", \"accepted\": [\"<key>\", ...]}; reloaded on SIGHUP and when it changes",
                             group: group, typeName: "path")
        verifyIncoming = set.bool("gossip-verify-incoming", default: true,
                                  usage: "Refuse plaintext gossip and Raft frames; false accepts them too\n(only while migrating a running cluster to encryption)",
                                  group: group)
        verifyOutgoing = set.bool("gossip-verify-outgoing", default: true,
                                  usage: "Seal outgoing gossip and Raft frames; false sends plaintext\n(only while migrating a running cluster to encryption)",
                                  group: group)
    }
}

// MARK: - GossipEncryptionOptions

/// How a node seals its gossip, as the command line asked, with the keyring already read and
/// checked (a bad key or keyring file stops discod with exit status 2 before anything starts).
public struct GossipEncryptionOptions: Sendable, Hashable {
    /// The keyring at start: one key from `-gossip-key`, or the file's contents.
    public var keyring: GossipKeyring
    /// The keyring file (`-gossip-keyring`) to reload on SIGHUP and when it changes; nil with
    /// `-gossip-key`.
    public var keyringPath: String?
    /// `-gossip-verify-incoming`: refuse plaintext gossip.
    public var verifyIncoming: Bool
    /// `-gossip-verify-outgoing`: seal what is sent.
    public var verifyOutgoing: Bool

    public init(keyring: GossipKeyring, keyringPath: String? = nil, verifyIncoming: Bool = true, verifyOutgoing: Bool = true) {
        self.keyring = keyring
        self.keyringPath = keyringPath
        self.verifyIncoming = verifyIncoming
        self.verifyOutgoing = verifyOutgoing
    }

    /// For the start-up log line (never a key).
    public var summary: String {
        var text = keyringPath.map { "keyring \($0)" } ?? "key"
        if !verifyIncoming { text += ", plaintext accepted" }
        if !verifyOutgoing { text += ", plaintext sent" }
        return text
    }

    /// Reads the flags; nil when neither a key nor a keyring was given.
    init?(_ flags: GossipFlags, parsed: ParsedFlags, loader: DiscoConfigLoader) throws(FlagError) {
        let keyText = parsed[flags.key], path = parsed[flags.keyring]
        // Given but empty (`-gossip-key "$KEY"` with KEY unset) would silently mean plaintext gossip.
        if parsed.isSet(flags.key), keyText.isEmpty {
            throw FlagError.invalid("gossip-key", "the key is empty (an unset variable?); give the base64 of 32 random bytes, "
                                    + "e.g. from `openssl rand -base64 32`, or drop -gossip-key for plaintext gossip")
        }
        if parsed.isSet(flags.keyring), path.isEmpty {
            throw FlagError.invalid("gossip-keyring", "the path is empty (an unset variable?); give the keyring file, "
                                    + "or drop -gossip-keyring for plaintext gossip")
        }
        if !keyText.isEmpty, !path.isEmpty {
            throw FlagError.conflict("gossip-keyring", "-gossip-key and -gossip-keyring cannot be used together: give the key, "
                                     + "or a keyring file whose primary key it is")
        }
        let verifyIncoming = parsed[flags.verifyIncoming], verifyOutgoing = parsed[flags.verifyOutgoing]
        if keyText.isEmpty, path.isEmpty {
            for flag in [flags.verifyIncoming, flags.verifyOutgoing] where parsed.isSet(flag) {
                throw FlagError.conflict(flag.name, "-\(flag.name) applies to encrypted gossip; give -gossip-key or -gossip-keyring too")
            }
            return nil
        }
        if !keyText.isEmpty {
            do throws(GossipKeyError) {
                keyring = GossipKeyring(primary: try GossipKey(base64: keyText))
            } catch {
                throw FlagError.invalid("gossip-key", "\(error)")
            }
            keyringPath = nil
        } else {
            let origin = "gossip keyring file \(path.debugDescription)"
            let bytes: [UInt8]?
            do throws(ProcessEnvironment.FileError) {
                bytes = try loader.readFile(path)
            } catch {
                throw FlagError.invalid("gossip-keyring", "\(error)")
            }
            guard let bytes else {
                throw FlagError.invalid("gossip-keyring", "\(origin) does not exist")
            }
            do throws(ConfigError) {
                keyring = try GossipKeyring.parse(bytes, origin: origin)
            } catch {
                throw FlagError.invalid("gossip-keyring", "\(error)")
            }
            keyringPath = path
        }
        self.verifyIncoming = verifyIncoming
        self.verifyOutgoing = verifyOutgoing
    }
}
