// MARK: - GossipKey

/// A shared cluster key for sealing gossip with AES-256-GCM: exactly 32 bytes, written as
/// standard base64 (44 characters, as `openssl rand -base64 32` prints it).
///
/// The bytes never appear in descriptions or logs; name a key by its fingerprint instead
/// (the SWIM shell derives one with SHA-256).
public struct GossipKey: Sendable, Hashable, CustomStringConvertible {
    /// Length of every key in bytes (AES-256).
    public static let byteCount = 32

    /// The raw key.
    public let bytes: [UInt8]

    /// A key from raw bytes; nil unless there are exactly ``byteCount`` of them.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Parses standard base64 of 32 bytes; the error says what is wrong and what would be right.
    public init(base64 text: String) throws(GossipKeyError) {
        let example = "the base64 of 32 random bytes (44 characters), e.g. from `openssl rand -base64 32`"
        guard !text.isEmpty else { throw GossipKeyError("the key is empty; expected \(example)") }
        guard let decoded = Base64.decode(text) else {
            let count = text.utf8.count
            let reason = count % 4 != 0
                ? "\(count) characters is not a whole number of base64 groups of 4"
                : "it contains characters other than A-Z a-z 0-9 + / and trailing ="
            throw GossipKeyError("the key is not valid base64 (\(reason)); expected \(example)")
        }
        guard let key = GossipKey(bytes: decoded) else {
            throw GossipKeyError("the key decodes to \(decoded.count) bytes, but AES-256 needs exactly \(Self.byteCount); expected \(example)")
        }
        self = key
    }

    /// Never shows the key.
    public var description: String { "GossipKey(<redacted>)" }
}

/// A gossip key that cannot be used; the message says why and what is expected.
public struct GossipKeyError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: - GossipKeyring

/// The keys a member seals and opens gossip with: one primary key that seals everything sent,
/// and extra accepted keys that still open what others send. Rotating the cluster key moves a
/// new key through the ring in three steps on every member: accepted, then primary, then the
/// old key removed.
///
/// As a file (`discod -gossip-keyring FILE`) it is a JSON object:
///
/// ```json
/// {"primary": "<base64 of 32 bytes>", "accepted": ["<base64 of 32 bytes>", "..."]}
/// ```
///
/// `accepted` may be absent or empty. A JSON array of base64 keys whose first element is the
/// primary (the shape serf's keyring file has) is read as well.
public struct GossipKeyring: Sendable, Hashable, CustomStringConvertible {
    /// Seals every outgoing message and is tried first when opening.
    public let primary: GossipKey
    /// Further keys that open incoming messages, in order, without the primary.
    public let accepted: [GossipKey]

    /// A ring of `primary` and `accepted`; duplicates (and the primary among `accepted`) are
    /// dropped.
    public init(primary: GossipKey, accepted: [GossipKey] = []) {
        self.primary = primary
        var seen: Set<GossipKey> = [primary]
        self.accepted = accepted.filter { seen.insert($0).inserted }
    }

    /// Every key, primary first: the order in which incoming messages are tried.
    public var keys: [GossipKey] { [primary] + accepted }

    public var description: String { "GossipKeyring(primary and \(accepted.count) accepted key(s), <redacted>)" }

    // MARK: Parsing

    /// The fields of the object form.
    static let fields = ["primary", "accepted"]

    /// Parses a keyring document; `origin` starts every error message (for example
    /// `gossip keyring file "/etc/disco/keyring.json"`).
    public static func parse(_ bytes: [UInt8], origin: String) throws(ConfigError) -> GossipKeyring {
        let format = #"{"primary": "<base64 key>", "accepted": ["<base64 key>", ...]}"#
        let document: JSONValue
        do throws(JSONParseError) {
            document = try JSONValue.parse(bytes)
        } catch {
            throw ConfigError(code: .syntax, field: nil, message: "\(origin): \(error); expected \(format)", syntax: error)
        }
        switch document {
        case .array(let elements):
            return try parseList(elements, origin: origin, format: format)
        case .object:
            let reader = try JSONObjectReader(document, context: origin, allowedFields: fields)
            let primaryText = try reader.required("primary", try reader.string("primary"), example: #""primary": "<base64 key>""#)
            let primary = try key(primaryText, origin: "\(origin) field \"primary\"")
            var accepted: [GossipKey] = []
            for (position, text) in (try reader.stringArray("accepted") ?? []).enumerated() {
                accepted.append(try key(text, origin: "\(origin) field \"accepted\" element \(position)"))
            }
            return GossipKeyring(primary: primary, accepted: accepted)
        default:
            throw ConfigError(code: .invalidValue, field: nil,
                              message: "\(origin): expected a JSON object \(format), got \(document.errorDescription)")
        }
    }

    /// serf's form: an array of base64 keys, the first one primary.
    static func parseList(_ elements: [JSONValue], origin: String, format: String) throws(ConfigError) -> GossipKeyring {
        guard !elements.isEmpty else {
            throw ConfigError(code: .missingField, field: nil, message: "\(origin): the key list is empty; expected \(format)")
        }
        var keys: [GossipKey] = []
        for (position, element) in elements.enumerated() {
            guard case .string(let text) = element else {
                throw ConfigError(code: .invalidValue, field: nil,
                                  message: "\(origin) element \(position): expected a base64 key string, got \(element.errorDescription)")
            }
            keys.append(try key(text, origin: "\(origin) element \(position)"))
        }
        return GossipKeyring(primary: keys[0], accepted: Array(keys.dropFirst()))
    }

    static func key(_ text: String, origin: String) throws(ConfigError) -> GossipKey {
        do throws(GossipKeyError) {
            return try GossipKey(base64: text)
        } catch {
            throw ConfigError(code: .invalidValue, field: nil, message: "\(origin): \(error.message)")
        }
    }
}
