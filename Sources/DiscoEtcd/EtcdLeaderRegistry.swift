import DiscoCore
import Foundation
import Synchronization

// MARK: - EtcdLeaderRegistry

/// The `etcd-kv` leader registry: the record lives at `/<disco-key>/leader`, is created with a
/// transaction comparing `create_revision == 0`, updated comparing `mod_revision`, and attached
/// to a lease, so it disappears when its writer stops renewing.
public final class EtcdLeaderRegistry: LeaderRegistry {
    public let gateway: EtcdGateway
    public let key: String
    public let ttl: Duration
    /// How often ``watch(after:timeout:)`` polls.
    public let pollInterval: Duration
    private let lease = Mutex<Int64?>(nil)

    /// - Parameters:
    ///   - discoKey: the `-disco-key` value; the record's key is `/<discoKey>/leader`.
    ///   - ttl: lease TTL; renew at most every third of it.
    public init(gateway: EtcdGateway, discoKey: String, ttl: Duration = .seconds(10),
                pollInterval: Duration = .milliseconds(250)) {
        self.gateway = gateway
        self.key = "/\(discoKey)/leader"
        self.ttl = ttl
        self.pollInterval = pollInterval
    }

    public var name: String { "etcd \(gateway.endpoints.joined(separator: ",")) key \(key)" }

    public func read() async throws -> VersionedLeaderRecord? {
        let response = try await gateway.call("/v3/kv/range", ["key": EtcdGateway.base64(key)], record: key)
        return try decodeFirst(response["kvs"])
    }

    public func createIfAbsent(_ record: LeaderRecord) async throws -> LeaderClaim {
        let leaseID = try await currentLease()
        let encodedKey = EtcdGateway.base64(key)
        let response = try await gateway.call("/v3/kv/txn", [
            "compare": [["target": "CREATE", "result": "EQUAL", "key": encodedKey, "create_revision": "0"]],
            "success": [["request_put": ["key": encodedKey, "value": EtcdGateway.base64(record.jsonBytes), "lease": String(leaseID)]]],
            "failure": [["request_range": ["key": encodedKey]]],
        ], record: key, repeatable: false)
        if response["succeeded"] as? Bool == true {
            let revision = EtcdGateway.int64((response["header"] as? [String: Any])?["revision"])
            return .created(VersionedLeaderRecord(record: record, version: UInt64(revision)))
        }
        let ranged = ((response["responses"] as? [[String: Any]])?.first?["response_range"] as? [String: Any])?["kvs"]
        if let existing = try decodeFirst(ranged) { return .existing(existing) }
        // The record vanished between the compare and the range: report it as a lost race.
        throw DiscoveryError(.malformed, server: gateway.endpoints.joined(separator: ","), record: key,
                             detail: "create-if-absent failed but the existing record could not be read")
    }

    public func update(_ record: LeaderRecord, expectedVersion: UInt64) async throws -> VersionedLeaderRecord? {
        let leaseID = try await currentLease()
        let encodedKey = EtcdGateway.base64(key)
        let response = try await gateway.call("/v3/kv/txn", [
            "compare": [["target": "MOD", "result": "EQUAL", "key": encodedKey, "mod_revision": String(expectedVersion)]],
            "success": [["request_put": ["key": encodedKey, "value": EtcdGateway.base64(record.jsonBytes), "lease": String(leaseID)]]],
        ], record: key, repeatable: false)
        guard response["succeeded"] as? Bool == true else { return nil }
        let revision = EtcdGateway.int64((response["header"] as? [String: Any])?["revision"])
        return VersionedLeaderRecord(record: record, version: UInt64(revision))
    }

    public func renew() async throws {
        guard let leaseID = lease.withLock({ $0 }) else { return }
        let response = try await gateway.call("/v3/lease/keepalive", ["ID": String(leaseID)], record: key)
        // The gateway streams one {"result": {...}} per keepalive; an expired lease has no TTL.
        let result = response["result"] as? [String: Any] ?? response
        if EtcdGateway.int64(result["TTL"]) <= 0 {
            lease.withLock { $0 = nil }
            throw LeaderRegistryError(registry: name, message: "lease \(leaseID) expired before it was renewed")
        }
    }

    public func holds(_ record: VersionedLeaderRecord) async throws -> Bool {
        guard let leaseID = lease.withLock({ $0 }) else { return false }
        let response = try await gateway.call("/v3/kv/range", ["key": EtcdGateway.base64(key)], record: key)
        guard try decodeFirst(response["kvs"])?.version == record.version,
            let first = (response["kvs"] as? [[String: Any]])?.first
        else { return false }
        return EtcdGateway.int64(first["lease"]) == leaseID
    }

    public func release() async throws {
        guard let leaseID = lease.withLock({ $0 }) else { return }
        _ = try await gateway.call("/v3/lease/revoke", ["ID": String(leaseID)], record: key)
        lease.withLock { $0 = nil }
    }

    public func watch(after version: UInt64?, timeout: Duration) async throws -> VersionedLeaderRecord? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let current = try await read()
            if current?.version != version || ContinuousClock.now >= deadline { return current }
            try await Task.sleep(for: min(pollInterval, deadline - ContinuousClock.now))
        }
    }

    // MARK: Internals

    /// The lease this registry writes under, granted on first use.
    func currentLease() async throws -> Int64 {
        if let existing = lease.withLock({ $0 }) { return existing }
        let seconds = max(1, ttl.components.seconds)
        let response = try await gateway.call("/v3/lease/grant", ["TTL": seconds, "ID": 0], record: key)
        let granted = EtcdGateway.int64(response["ID"])
        guard granted != 0 else {
            throw DiscoveryError(.malformed, server: gateway.endpoints.joined(separator: ","), record: key,
                                 detail: "lease grant answered without an ID: \(response)")
        }
        lease.withLock { $0 = granted }
        return granted
    }

    func decodeFirst(_ kvs: Any?) throws -> VersionedLeaderRecord? {
        guard let first = (kvs as? [[String: Any]])?.first else { return nil }
        guard let value = EtcdGateway.bytes(fromBase64: first["value"]), let record = LeaderRecord(json: value) else {
            throw DiscoveryError(.malformed, server: gateway.endpoints.joined(separator: ","), record: key,
                                 detail: "the stored value is not a leader record {\"id\",\"api_addr\",\"addr\"}")
        }
        return VersionedLeaderRecord(record: record, version: UInt64(EtcdGateway.int64(first["mod_revision"])))
    }
}
