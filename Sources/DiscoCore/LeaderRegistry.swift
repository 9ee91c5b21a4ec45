// MARK: - LeaderRecord

/// The leader record kept in a KV store (Consul or etcd), in the JSON shape rqlite writes, so
/// tools that read rqlite's key read ours: `{"id":"…","api_addr":"…","addr":"…"}`.
public struct LeaderRecord: Codable, Hashable, Sendable {
    /// The leader's node ID.
    public var id: String
    /// The leader's advertised HTTP API address, as a URL (`http://host:4001`).
    public var apiAddr: String
    /// The leader's advertised Raft (internode) address, `host:port`.
    public var addr: String

    public init(id: String, apiAddr: String, addr: String) {
        self.id = id
        self.apiAddr = apiAddr
        self.addr = addr
    }

    enum CodingKeys: String, CodingKey {
        case id
        case apiAddr = "api_addr"
        case addr
    }
}

/// A leader record with the store's version of it: Consul's `ModifyIndex`, etcd's `mod_revision`.
/// Compare-and-set updates name the version they replace.
public struct VersionedLeaderRecord: Hashable, Sendable {
    public var record: LeaderRecord
    public var version: UInt64

    public init(record: LeaderRecord, version: UInt64) {
        self.record = record
        self.version = version
    }
}

/// The outcome of ``LeaderRegistry/createIfAbsent(_:)``.
public enum LeaderClaim: Hashable, Sendable {
    /// This registry created the record; it now holds it under its session or lease.
    case created(VersionedLeaderRecord)
    /// A record already existed; it is returned unchanged.
    case existing(VersionedLeaderRecord)
}

// MARK: - LeaderRegistry

/// Where the cluster leader is published in a KV store, so new nodes can find the cluster.
///
/// Unlike rqlite's, the record is tied to a TTL (a Consul session with `behavior=delete`, an etcd
/// lease): a registry that stops calling ``renew()`` loses the record after the TTL, so a dead
/// leader's address does not linger. Each registry value owns at most one session or lease.
public protocol LeaderRegistry: Sendable {
    /// Where the record lives, for logs and errors, e.g. `consul http://127.0.0.1:8500 key disco/leader`.
    var name: String { get }

    /// The current record, or `nil` when there is none.
    func read() async throws -> VersionedLeaderRecord?

    /// Creates the record only if no record exists (Consul `?cas=0`, etcd `create_revision == 0`).
    func createIfAbsent(_ record: LeaderRecord) async throws -> LeaderClaim

    /// Replaces the record only if its version is still `expectedVersion`.
    /// - Returns: the new record, or `nil` if the record changed (or vanished) in the meantime.
    func update(_ record: LeaderRecord, expectedVersion: UInt64) async throws -> VersionedLeaderRecord?

    /// Keeps this registry's session or lease alive. Call it well within the TTL.
    func renew() async throws

    /// Deletes the record if this registry wrote it, and ends the session or lease.
    func release() async throws

    /// Waits until the record's version differs from `version` (or the record appears or
    /// disappears), or until `timeout` passes; returns the record as it is then.
    func watch(after version: UInt64?, timeout: Duration) async throws -> VersionedLeaderRecord?
}

// MARK: - JSON form

extension LeaderRecord {
    /// The record as rqlite writes it: `{"id":"…","api_addr":"…","addr":"…"}`, in that order.
    public var jsonBytes: [UInt8] {
        Array("{\"id\":\(Self.quote(id)),\"api_addr\":\(Self.quote(apiAddr)),\"addr\":\(Self.quote(addr))}".utf8)
    }

    /// Decodes the stored JSON leniently: rqlite omits empty fields, and unknown fields are kept
    /// for forward compatibility. Returns `nil` for anything that is not a JSON object of strings.
    public init?(json bytes: [UInt8]) {
        guard let fields = Self.flatStringObject(bytes) else { return nil }
        self.init(id: fields["id"] ?? "", apiAddr: fields["api_addr"] ?? "", addr: fields["addr"] ?? "")
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Parses `{"k":"v",...}` with string values only (other value types are skipped as
    /// unsupported). Enough for the leader record; not a general JSON parser.
    static func flatStringObject(_ bytes: [UInt8]) -> [String: String]? {
        var scanner = FlatJSONScanner(bytes: bytes)
        return scanner.object()
    }
}

/// A tiny scanner for the leader record's flat object of strings.
struct FlatJSONScanner {
    let bytes: [UInt8]
    var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func skipSpace() {
        while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    mutating func expect(_ byte: UInt8) -> Bool {
        skipSpace()
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    mutating func object() -> [String: String]? {
        guard expect(UInt8(ascii: "{")) else { return nil }
        var fields: [String: String] = [:]
        if expect(UInt8(ascii: "}")) { return fields }
        repeat {
            skipSpace()
            guard let key = string(), expect(UInt8(ascii: ":")) else { return nil }
            skipSpace()
            guard let value = string() else { return nil }
            fields[key] = value
        } while expect(UInt8(ascii: ","))
        guard expect(UInt8(ascii: "}")) else { return nil }
        skipSpace()
        return position == bytes.count ? fields : nil
    }

    mutating func string() -> String? {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return nil }
        position += 1
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() -> Bool {
            guard !raw.isEmpty else { return true }
            guard let text = String(validating: raw, as: UTF8.self) else { return false }
            scalars.append(contentsOf: text.unicodeScalars)
            raw.removeAll()
            return true
        }
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return flush() ? String(scalars) : nil
            case UInt8(ascii: "\\"):
                guard flush(), position < bytes.count else { return nil }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "u"):
                    guard position + 4 <= bytes.count,
                        let code = UInt32(String(decoding: bytes[position..<position + 4], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(code)
                    else { return nil }
                    position += 4
                    scalars.append(scalar)
                default: return nil
                }
            case 0..<0x20:
                return nil
            default:
                raw.append(byte)
            }
        }
        return nil
    }
}
