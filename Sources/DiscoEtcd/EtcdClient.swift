import DiscoCore
import Foundation

// MARK: - EtcdClient

/// etcd's v3 key-value, transaction and lease API over the JSON gateway, good enough to keep a
/// cluster's replicated state in etcd: revisions on every answer, transactions with compares on
/// version, create/mod revision and value, leases, and (``EtcdClient/watch(prefix:from:)``) watches.
///
/// Calls fail over between the gateway's endpoints; every error is an ``EtcdError`` naming etcd,
/// the endpoint and etcd's message.
public struct EtcdClient: Sendable {
    public let gateway: EtcdGateway

    public init(gateway: EtcdGateway) { self.gateway = gateway }

    /// Every endpoint, for messages.
    public var endpointList: String { gateway.endpoints.joined(separator: ",") }

    // MARK: Key-value

    /// Writes a key; returns the store's revision after the write.
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: Int64 = 0) async throws(EtcdError) -> Int64 {
        var body: [String: Any] = ["key": EtcdGateway.base64(key), "value": EtcdGateway.base64(value)]
        if lease != 0 { body["lease"] = String(lease) }
        return Self.revision(try await call("/v3/kv/put", body, "put \(key)"))
    }

    /// Reads one key (nil when absent).
    public func get(_ key: String) async throws(EtcdError) -> EtcdKeyValue? {
        try await range(key, prefix: false).kvs.first
    }

    /// Reads every key under `prefix` (or just `prefix` when `prefix` is false), in key order,
    /// at most `limit` of them (0: no limit), as of `revision` (0: the latest).
    public func range(_ key: String, prefix: Bool = true, limit: Int = 0, revision: Int64 = 0,
                      fromKey: String? = nil) async throws(EtcdError) -> EtcdRange {
        var body: [String: Any] = ["key": EtcdGateway.base64(fromKey ?? key)]
        if prefix { body["range_end"] = EtcdGateway.base64(EtcdKey.prefixEnd(key)) }
        if limit > 0 { body["limit"] = String(limit) }
        if revision > 0 { body["revision"] = String(revision) }
        let operation = "range \(key)\(prefix ? "*" : "")"
        let answer = try await call("/v3/kv/range", body, operation)
        return EtcdRange(kvs: try Self.kvs(answer["kvs"], endpoint: endpointList, operation: operation),
                         revision: Self.revision(answer), more: answer["more"] as? Bool ?? false,
                         count: EtcdGateway.int64(answer["count"]))
    }

    /// The key under `prefix` with the lowest create revision below `maxCreateRevision` (0: any),
    /// or the highest when `newest` is set: the election's "who is ahead of me" question.
    public func oldest(under prefix: String, maxCreateRevision: Int64 = 0, newest: Bool = false) async throws(EtcdError) -> EtcdKeyValue? {
        var body: [String: Any] = [
            "key": EtcdGateway.base64(prefix), "range_end": EtcdGateway.base64(EtcdKey.prefixEnd(prefix)),
            "limit": "1", "sort_target": "CREATE", "sort_order": newest ? "DESCEND" : "ASCEND",
        ]
        if maxCreateRevision > 0 { body["max_create_revision"] = String(maxCreateRevision) }
        let operation = "range \(prefix)* by create revision"
        let answer = try await call("/v3/kv/range", body, operation)
        return try Self.kvs(answer["kvs"], endpoint: endpointList, operation: operation).first
    }

    /// Deletes a key, or every key under it; returns how many were deleted.
    @discardableResult
    public func delete(_ key: String, prefix: Bool = false) async throws(EtcdError) -> Int64 {
        var body: [String: Any] = ["key": EtcdGateway.base64(key)]
        if prefix { body["range_end"] = EtcdGateway.base64(EtcdKey.prefixEnd(key)) }
        return EtcdGateway.int64(try await call("/v3/kv/deleterange", body, "delete \(key)\(prefix ? "*" : "")")["deleted"])
    }

    /// Runs a transaction.
    public func txn(_ txn: EtcdTxn, operation: String) async throws(EtcdError) -> EtcdTxnResult {
        // Not repeated on another endpoint: its compares would see its own writes.
        let answer = try await call("/v3/kv/txn", txn.json, "txn \(operation)", repeatable: false)
        var results: [EtcdOpResult] = []
        for response in answer["responses"] as? [[String: Any]] ?? [] {
            if let range = response["response_range"] as? [String: Any] {
                results.append(.get(try Self.kvs(range["kvs"], endpoint: endpointList, operation: "txn \(operation)")))
            } else if let deleted = response["response_delete_range"] as? [String: Any] {
                results.append(.delete(deleted: EtcdGateway.int64(deleted["deleted"])))
            } else {
                results.append(.put)
            }
        }
        return EtcdTxnResult(succeeded: answer["succeeded"] as? Bool ?? false, revision: Self.revision(answer), results: results)
    }

    /// Compacts the store's history up to `revision` (watches from before it fail as compacted).
    public func compact(revision: Int64) async throws(EtcdError) {
        _ = try await call("/v3/kv/compaction", ["revision": String(revision), "physical": true], "compact \(revision)")
    }

    // MARK: Leases

    /// Grants a lease of `ttl` (whole seconds, at least 1); returns its ID and the TTL etcd gave.
    public func grantLease(ttl: Duration) async throws(EtcdError) -> (id: Int64, ttl: Duration) {
        let seconds = max(1, ttl.components.seconds + (ttl.components.attoseconds > 0 ? 1 : 0))
        let answer = try await call("/v3/lease/grant", ["TTL": String(seconds), "ID": "0"], "lease grant")
        let id = EtcdGateway.int64(answer["ID"])
        guard id != 0 else {
            let message = (answer["error"] as? String) ?? "the answer has no lease ID"
            throw EtcdError(.rejected, endpoint: endpointList, operation: "lease grant", message: message)
        }
        return (id, .seconds(EtcdGateway.int64(answer["TTL"])))
    }

    /// Renews a lease once; returns the TTL it now has. A lease etcd no longer knows (expired or
    /// revoked) is ``EtcdError/Kind-swift.enum/leaseLost(id:)``.
    public func keepAlive(lease id: Int64) async throws(EtcdError) -> Duration {
        let operation = "lease keep-alive \(String(id, radix: 16))"
        let answer = try await call("/v3/lease/keepalive", ["ID": String(id)], operation)
        let result = answer["result"] as? [String: Any] ?? answer
        let ttl = EtcdGateway.int64(result["TTL"])
        guard ttl > 0 else {
            throw EtcdError(.leaseLost(id: id), endpoint: endpointList, operation: operation, message: "etcd no longer knows the lease (expired or revoked)")
        }
        return .seconds(ttl)
    }

    /// Revokes a lease, deleting every key attached to it.
    public func revokeLease(_ id: Int64) async throws(EtcdError) {
        do {
            _ = try await call("/v3/lease/revoke", ["ID": String(id)], "lease revoke \(String(id, radix: 16))")
        } catch where error.message.contains("lease not found") {
            return
        }
    }

    /// The lease's remaining TTL, or nil when etcd no longer knows it.
    public func timeToLive(lease id: Int64) async throws(EtcdError) -> Duration? {
        let answer = try await call("/v3/lease/timetolive", ["ID": String(id)], "lease time-to-live \(String(id, radix: 16))")
        let ttl = EtcdGateway.int64(answer["TTL"])
        return ttl > 0 ? .seconds(ttl) : nil
    }

    // MARK: Internals

    func call(_ path: String, _ body: [String: Any], _ operation: String, repeatable: Bool = true) async throws(EtcdError) -> [String: Any] {
        do {
            return try await gateway.call(path, body, record: operation, repeatable: repeatable)
        } catch let error as DiscoveryError {
            throw EtcdError(error, operation: operation)
        } catch {
            throw EtcdError(.malformed, endpoint: endpointList, operation: operation, message: "\(error)")
        }
    }

    static func revision(_ answer: [String: Any]) -> Int64 {
        EtcdGateway.int64((answer["header"] as? [String: Any])?["revision"])
    }

    static func kvs(_ value: Any?, endpoint: String, operation: String) throws(EtcdError) -> [EtcdKeyValue] {
        guard let value else { return [] }
        guard let list = value as? [[String: Any]] else {
            throw EtcdError(.malformed, endpoint: endpoint, operation: operation, message: "kvs is not a list of objects")
        }
        var kvs: [EtcdKeyValue] = []
        for object in list {
            guard let kv = EtcdKeyValue(gateway: object) else {
                throw EtcdError(.malformed, endpoint: endpoint, operation: operation, message: "a kv without a base64 key or value: \(object)")
            }
            kvs.append(kv)
        }
        return kvs
    }
}
