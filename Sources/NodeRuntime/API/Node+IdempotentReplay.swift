import DiscoCore
import DiscoNet

// MARK: - Replaying an idempotent append

extension Node {
    /// The answer to `POST /events` whose `Idempotency-Key` made event `seq` (at Raft `index`)
    /// already: the first append's `{"seq","index"}` with `Idempotent-Replayed: true` when `body`
    /// is that event (``isSameEvent(_:as:)``), else 422, since a key stands for one event and
    /// answering a different one as a replay would drop it unnoticed (the IETF idempotency-key
    /// draft's answer to a reused key). When the first event was trimmed by the retention policy,
    /// there is nothing to compare with, and the answer is the replay. The node's own appends
    /// (`asNode`) take what the log holds under the key whatever the body: the host role relies
    /// on it.
    func replay(key: String, seq: UInt64, index: UInt64, body: [UInt8], asNode: Bool) -> HTTPResponse {
        guard !asNode, seq > 0, let first = store.events(since: seq - 1, limit: 1).events.first, first.seq == seq,
              !Self.isSameEvent(body, as: first.data) else {
            return Self.appended(seq: seq, index: index, replayed: true)
        }
        return APIResponse.error(
            422, "\(Self.idempotencyKeyHeader) \(key.debugDescription) was first used for a different event, appended as seq \(seq) "
                + "(index \(index)); a key may be reused only to retry the same event: use a new key for a new event",
            extra: [.init(key: "idempotency_key", value: .string(key)),
                    .init(key: "first_append", value: ["seq": .number(JSONNumber(seq)), "index": .number(JSONNumber(index))])])
    }

    /// Whether `body` is the event `logged` (the bytes the first append posted): the same bytes,
    /// or the same JSON value written differently, as a client that serialises the event again
    /// for a retry may: whitespace, the order of an object's members and string escapes (`\u00e9`
    /// for `é`) may differ; numbers must be written alike (`1` is not `1.0`).
    static func isSameEvent(_ body: [UInt8], as logged: [UInt8]) -> Bool {
        if body == logged { return true }
        guard let posted = try? JSONValue.parse(body), let first = try? JSONValue.parse(logged) else { return false }
        return isSameValue(posted, first)
    }

    /// JSON equality with objects as unordered sets of members, and strings and keys compared by
    /// their Unicode scalars (not as equivalent `String`s: `é` and `e` + U+0301 are different).
    private static func isSameValue(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null):
            return true
        case (.bool(let left), .bool(let right)):
            return left == right
        case (.number(let left), .number(let right)):
            return left.text.utf8.elementsEqual(right.text.utf8)
        case (.string(let left), .string(let right)):
            return left.unicodeScalars.elementsEqual(right.unicodeScalars)
        case (.array(let left), .array(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { isSameValue($0, $1) }
        case (.object(let left), .object(let right)):
            guard left.count == right.count else { return false }
            // Keys are unique in a parsed object, so equal counts and every member found is equality.
            var members: [[Unicode.Scalar]: JSONValue] = [:]
            members.reserveCapacity(right.count)
            for member in right { members[Array(member.key.unicodeScalars)] = member.value }
            return left.allSatisfy { member in
                members[Array(member.key.unicodeScalars)].map { isSameValue(member.value, $0) } ?? false
            }
        default:
            return false
        }
    }
}
