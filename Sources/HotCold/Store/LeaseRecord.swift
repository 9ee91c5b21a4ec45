import DiscoCore
import LeaseCore

// MARK: - LeaseRecord

/// How a store that keeps the lease as key-value entries (the node's replicated state, etcd)
/// writes a group's ``LeaseState`` and a replica's candidacy: small JSON objects, read back
/// strictly (an unknown field or a wrong type is an error naming the field).
///
/// State: `{"holder":"b","token":7,"claimed_by":"9813...","last_change":41,"move_to":null,
/// "last_holder":"b","holder_ttl_ns":500000000}` — `claimed_by` is a decimal string (incarnations
/// use all 64 bits); `holder_ttl_ns` (the holder's own ttl, ``LeaseState/holderTTL``) appears
/// only when set: records without it (older holders) read back as nil, and the grantor then
/// waits its own ttl. Nodes older than the field refuse records that carry it.
/// Candidacy: `{"priority":0,"healthy":true,"may_be_hot":true}` (the node is the key's name).
public enum LeaseRecord {
    static let stateFields = ["holder", "token", "claimed_by", "last_change", "move_to", "last_holder", "holder_ttl_ns"]
    static let candidateFields = ["priority", "healthy", "may_be_hot"]

    /// The value stored for `state`.
    public static func encode(_ state: LeaseState) -> [UInt8] {
        var object = JSONObject()
        object.append(key: "holder", value: state.holder.map { .string($0.rawValue) } ?? .null)
        object.append(key: "token", value: .number(JSONNumber(state.token)))
        object.append(key: "claimed_by", value: state.claimedBy.map { .string(String($0)) } ?? .null)
        object.append(key: "last_change", value: .number(JSONNumber(state.lastChange)))
        object.append(key: "move_to", value: state.moveTo.map { .string($0.rawValue) } ?? .null)
        object.append(key: "last_holder", value: state.lastHolder.map { .string($0.rawValue) } ?? .null)
        if let ttl = state.holderTTL {
            object.append(key: "holder_ttl_ns", value: .number(JSONNumber(UInt64(max(0, GoDuration.nanoseconds(of: ttl))))))
        }
        return JSONValue.object(object).encodedBytes()
    }

    /// The state a stored value holds.
    public static func decodeState(_ bytes: [UInt8]) throws(ConfigError) -> LeaseState {
        let reader = try reader(bytes, context: "lease record", fields: stateFields)
        let claimed: UInt64?
        if let text = try reader.string("claimed_by") {
            guard let value = UInt64(text) else {
                throw reader.error("claimed_by", "expected a decimal incarnation from 0 to \(UInt64.max), got \(text.debugDescription)")
            }
            claimed = value
        } else {
            claimed = nil
        }
        var holderTTL: Duration?
        if let nanoseconds = try reader.uint64("holder_ttl_ns") {
            let limit = UInt64(GoDuration.nanoseconds(of: LeaseSettings.maximumTTL))
            guard nanoseconds > 0, nanoseconds <= limit else {
                throw reader.error("holder_ttl_ns", "expected a ttl in nanoseconds from 1 to \(limit), got \(nanoseconds)")
            }
            holderTTL = .nanoseconds(Int64(nanoseconds))
        }
        return LeaseState(
            holder: try node(reader, "holder"), token: try reader.uint64("token") ?? 0, claimedBy: claimed,
            lastChange: try reader.uint64("last_change") ?? 0, moveTo: try node(reader, "move_to"),
            lastHolder: try node(reader, "last_holder"), holderTTL: holderTTL)
    }

    /// The value stored for `candidate` (its node is the key's name).
    public static func encode(_ candidate: LeaseCandidate) -> [UInt8] {
        JSONValue.object(JSONObject([
            .init(key: "priority", value: .number(JSONNumber(candidate.priority))),
            .init(key: "healthy", value: .bool(candidate.healthy)),
            .init(key: "may_be_hot", value: .bool(candidate.mayBeHot)),
        ])).encodedBytes()
    }

    /// The candidacy of `node` a stored value holds (in touch: the store decides that).
    public static func decodeCandidate(_ bytes: [UInt8], node: NodeID) throws(ConfigError) -> LeaseCandidate {
        let reader = try reader(bytes, context: "lease candidacy of \(node)", fields: candidateFields)
        let limit = HotColdConfiguration.priorityLimit
        return LeaseCandidate(node: node, priority: try reader.int("priority", in: -limit...limit) ?? 0,
                              healthy: try reader.bool("healthy") ?? false, mayBeHot: try reader.bool("may_be_hot") ?? false)
    }

    // MARK: Helpers

    private static func reader(_ bytes: [UInt8], context: String, fields: [String]) throws(ConfigError) -> JSONObjectReader {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes, maxDepth: 4)
        } catch {
            throw ConfigError(code: .syntax, field: nil, message: "\(context): \(error)", syntax: error)
        }
        return try JSONObjectReader(value, context: context, allowedFields: fields)
    }

    private static func node(_ reader: JSONObjectReader, _ key: String) throws(ConfigError) -> NodeID? {
        guard let text = try reader.string(key) else { return nil }
        guard let node = NodeID(text) else {
            throw reader.error(key, "expected a node ID (no whitespace or control characters), got \(text.debugDescription)")
        }
        return node
    }
}
