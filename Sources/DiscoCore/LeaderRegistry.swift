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

    /// Whether the store holds `record`, at its version, under this registry's own session or
    /// lease: written through this registry value, in this process, not left by an earlier run
    /// (a new process has a new session or lease, whatever node ID and addresses it shares).
    /// A write whose answer was lost (a timeout after the store applied it) shows up this way.
    func holds(_ record: VersionedLeaderRecord) async throws -> Bool

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
        JSONValue.object(JSONObject([
            .init(key: "id", value: .string(id)),
            .init(key: "api_addr", value: .string(apiAddr)),
            .init(key: "addr", value: .string(addr)),
        ])).encodedBytes()
    }

    /// Decodes the stored JSON leniently: rqlite omits empty fields, and fields we do not know
    /// are ignored for forward compatibility. Returns `nil` for anything but a JSON object whose
    /// known fields are strings.
    public init?(json bytes: [UInt8]) {
        guard let object = (try? JSONValue.parse(bytes))?.objectValue else { return nil }
        var fields: [String: String] = [:]
        for key in ["id", "api_addr", "addr"] {
            guard let value = object[key] else { continue }
            guard let text = value.stringValue else { return nil }
            fields[key] = text
        }
        self.init(id: fields["id"] ?? "", apiAddr: fields["api_addr"] ?? "", addr: fields["addr"] ?? "")
    }
}

// MARK: - LeaderRegistryError

/// A failure talking to a leader registry, naming the registry and what went wrong.
public struct LeaderRegistryError: Error, CustomStringConvertible {
    public let registry: String
    public let message: String

    public init(registry: String, message: String) {
        self.registry = registry
        self.message = message
    }

    public var description: String { "\(registry): \(message)" }
}
