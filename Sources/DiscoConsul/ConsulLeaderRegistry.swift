import DiscoCore
import Foundation
import Synchronization

// MARK: - ConsulLeaderRegistry

/// The `consul-kv` leader registry: the record lives at `<disco-key>/leader` and is held by a
/// Consul session with a TTL and `Behavior=delete`, so it is deleted when its writer stops
/// renewing (Consul reaps a session up to 2×TTL after its last renewal).
///
/// Create-if-absent is one transaction (`check-not-exists` + `lock`), and so is compare-and-set
/// (`delete-cas` at the expected `ModifyIndex` + `lock`): the record is never written without
/// this registry's session attached. Watching uses blocking queries.
public final class ConsulLeaderRegistry: LeaderRegistry {
    public let client: ConsulClient
    public let key: String
    public let ttl: Duration
    private let session = Mutex<String?>(nil)

    /// - Parameters:
    ///   - discoKey: the `-disco-key` value; the record's key is `<discoKey>/leader`.
    ///   - ttl: session TTL (Consul accepts 10 s to 24 h); renew well within it.
    public init(client: ConsulClient, discoKey: String, ttl: Duration = .seconds(10)) {
        self.client = client
        self.key = "\(discoKey)/leader"
        self.ttl = max(ttl, .seconds(10))
    }

    public var name: String { "consul \(client.server) key \(key)" }

    public func read() async throws -> VersionedLeaderRecord? {
        try decode(try await client.send("GET", "/v1/kv/\(key)", record: key))
    }

    public func createIfAbsent(_ record: LeaderRecord) async throws -> LeaderClaim {
        let id = try await currentSession()
        let ops: [[String: Any]] = [
            ["KV": ["Verb": "check-not-exists", "Key": key]],
            ["KV": ["Verb": "lock", "Key": key, "Value": Data(record.jsonBytes).base64EncodedString(), "Session": id]],
        ]
        if let created = try await transact(ops) {
            return .created(VersionedLeaderRecord(record: record, version: created))
        }
        guard let existing = try await read() else {
            throw DiscoveryError(.serverError, server: client.server, record: key,
                                 detail: "create-if-absent was refused but no record exists (lock-delay in force?)")
        }
        return .existing(existing)
    }

    public func update(_ record: LeaderRecord, expectedVersion: UInt64) async throws -> VersionedLeaderRecord? {
        let id = try await currentSession()
        let ops: [[String: Any]] = [
            ["KV": ["Verb": "delete-cas", "Key": key, "Index": expectedVersion]],
            ["KV": ["Verb": "lock", "Key": key, "Value": Data(record.jsonBytes).base64EncodedString(), "Session": id]],
        ]
        return try await transact(ops).map { VersionedLeaderRecord(record: record, version: $0) }
    }

    public func renew() async throws {
        guard let id = session.withLock({ $0 }) else { return }
        let response = try await client.send("PUT", "/v1/session/renew/\(id)", record: key)
        if response.status == 404 {
            session.withLock { $0 = nil }
            throw LeaderRegistryError(registry: name, message: "session \(id) expired before it was renewed")
        }
        guard response.status == 200 else { throw client.failure(response, record: key) }
    }

    public func holds(_ record: VersionedLeaderRecord) async throws -> Bool {
        guard let id = session.withLock({ $0 }) else { return false }
        let response = try await client.send("GET", "/v1/kv/\(key)", record: key)
        guard try decode(response)?.version == record.version,
            let entry = (try client.json(response, record: key) as? [[String: Any]])?.first
        else { return false }
        return entry["Session"] as? String == id
    }

    public func release() async throws {
        guard let id = session.withLock({ $0 }) else { return }
        let response = try await client.send("PUT", "/v1/session/destroy/\(id)", record: key)
        guard response.status == 200 else { throw client.failure(response, record: key) }
        session.withLock { $0 = nil }
    }

    public func watch(after version: UInt64?, timeout: Duration) async throws -> VersionedLeaderRecord? {
        var index = version
        if index == nil {
            let response = try await client.send("GET", "/v1/kv/\(key)", record: key)
            if let current = try decode(response) { return current }
            index = response.header("X-Consul-Index").flatMap(UInt64.init)
        }
        let seconds = max(1, timeout.components.seconds)
        // Consul may add up to wait/16 of jitter before answering.
        let deadline = timeout + timeout / 16 + client.settings.timeout
        let response = try await client.send("GET", "/v1/kv/\(key)",
                                             query: [("index", String(max(1, index ?? 1))), ("wait", "\(seconds)s")],
                                             record: key, timeout: deadline)
        return try decode(response)
    }

    // MARK: Internals

    /// The session this registry writes under, created on first use.
    func currentSession() async throws -> String {
        if let id = session.withLock({ $0 }) { return id }
        let body: [String: Any] = ["Name": "disco leader record", "TTL": "\(ttl.components.seconds)s",
                                   "Behavior": "delete", "LockDelay": "0s"]
        let response = try await client.send("PUT", "/v1/session/create",
                                              body: Array(try JSONSerialization.data(withJSONObject: body)), record: key)
        guard response.status == 200 else { throw client.failure(response, record: key) }
        guard let id = (try client.json(response, record: key) as? [String: Any])?["ID"] as? String else {
            throw DiscoveryError(.malformed, server: client.server, record: key, detail: "session create answered without an ID")
        }
        session.withLock { $0 = id }
        return id
    }

    /// Runs a transaction; returns the `ModifyIndex` of the locked key, or `nil` when a check failed.
    func transact(_ ops: [[String: Any]]) async throws -> UInt64? {
        let body = Array(try JSONSerialization.data(withJSONObject: ops))
        let response = try await client.send("PUT", "/v1/txn", body: body, record: key)
        if response.status == 409 { return nil }
        guard response.status == 200 else { throw client.failure(response, record: key) }
        let results = (try client.json(response, record: key) as? [String: Any])?["Results"] as? [[String: Any]]
        let locked = results?.compactMap { $0["KV"] as? [String: Any] }.last { $0["Key"] as? String == key }
        guard let index = (locked?["ModifyIndex"] as? NSNumber)?.uint64Value else {
            throw DiscoveryError(.malformed, server: client.server, record: key, detail: "transaction result lacks ModifyIndex")
        }
        return index
    }

    func decode(_ response: HTTPExchangeResponse) throws -> VersionedLeaderRecord? {
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw client.failure(response, record: key) }
        guard let entry = (try client.json(response, record: key) as? [[String: Any]])?.first,
            let index = (entry["ModifyIndex"] as? NSNumber)?.uint64Value
        else {
            throw DiscoveryError(.malformed, server: client.server, record: key, detail: "expected a JSON array of KV entries")
        }
        guard let encoded = entry["Value"] as? String, let value = Data(base64Encoded: encoded),
            let record = LeaderRecord(json: Array(value))
        else {
            throw DiscoveryError(.malformed, server: client.server, record: key,
                                 detail: "the stored value is not a leader record {\"id\",\"api_addr\",\"addr\"}")
        }
        return VersionedLeaderRecord(record: record, version: index)
    }
}
