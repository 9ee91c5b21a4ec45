import DiscoCore
import Foundation

// MARK: - ConsulKVModel

/// The semantics of Consul's KV, session and txn HTTP API, as a pure state machine: a request
/// and the current time in, a response out. ``ConsulKVDouble`` serves it over HTTP.
///
/// Follows the documented behaviour (api-docs kv, session, txn, features/blocking):
/// - `GET /v1/kv/<key>` answers 404 for a missing key, else a JSON array with base64 `Value`;
///   `?raw` returns the bytes; `?recurse` returns every key under the prefix; `?keys` the names.
/// - `PUT /v1/kv/<key>` answers `true`/`false`: `?cas=0` creates only if absent, `?cas=N` sets only
///   if `ModifyIndex == N`, `?acquire=<session>` locks (fails if held by another session or within
///   lock-delay), `?release=<session>` unlocks; `?flags=`.
/// - `DELETE /v1/kv/<key>` with `?cas=N` (where `cas=0` does nothing) and `?recurse`.
/// - Sessions: create (TTL 10s–86400s, `Behavior` release|delete, `LockDelay` default 15s),
///   renew, destroy, info, list; expiry invalidates the session and releases or deletes its keys.
/// - `PUT /v1/txn` with KV verbs; 409 with `Errors` when any check fails, nothing applied.
/// - Every response carries `X-Consul-Index`, `X-Consul-KnownLeader` and `X-Consul-LastContact`.
/// - When configured with a token, requests without it (`X-Consul-Token` or `Authorization:
///   Bearer`) get 403 `Permission denied`.
///
/// Blocking queries are decided here (``Outcome/wait(afterIndex:maxWait:)``) and waited for by
/// the server, which retries the request when the index moves or the wait ends.
public struct ConsulKVModel: Sendable {
    /// A request as the HTTP layer received it.
    public struct Request: Sendable {
        public var method: String
        /// Path without the query, e.g. `/v1/kv/disco/leader`.
        public var path: String
        /// Decoded query items in order; a bare `?raw` has an empty value.
        public var query: [(name: String, value: String)]
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public init(method: String, path: String, query: [(name: String, value: String)] = [],
                    headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
        }

        func queryValue(_ name: String) -> String? { query.last(where: { $0.name == name })?.value }
        func has(_ name: String) -> Bool { query.contains(where: { $0.name == name }) }
        func header(_ name: String) -> String? {
            headers.last(where: { $0.name.lowercased() == name.lowercased() })?.value
        }
    }

    /// A response to send back.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]
    }

    /// What to do with a request.
    public enum Outcome: Sendable {
        case respond(Response)
        /// A blocking query whose index has not moved: retry when ``index`` exceeds `afterIndex`
        /// or after `maxWait`, whichever comes first (then answer with the current state).
        case wait(afterIndex: UInt64, maxWait: Duration)
    }

    struct Entry {
        var value: [UInt8]
        var flags: UInt64
        var createIndex: UInt64
        var modifyIndex: UInt64
        var lockIndex: UInt64
        var session: String?
    }

    struct Session {
        var id: String
        var name: String
        var ttl: Duration?
        var ttlText: String
        var behavior: String
        var lockDelay: Duration
        var createIndex: UInt64
        var expiresAt: Duration?
    }

    /// The Raft-like index: increases on every write.
    public private(set) var index: UInt64 = 1
    var entries: [String: Entry] = [:]
    var sessions: [String: Session] = [:]
    /// Keys that may not be acquired until the given time (lock-delay after invalidation).
    var lockDelays: [String: Duration] = [:]
    var kvTableIndex: UInt64 = 1
    var random: DeterministicRandom
    let requiredToken: String?

    /// - Parameters:
    ///   - token: when set, every request must present this ACL token.
    ///   - seed: seeds session ID generation.
    public init(token: String? = nil, seed: UInt64 = 0xC0_75_17) {
        self.requiredToken = token
        self.random = DeterministicRandom(seed: seed)
    }

    // MARK: Entry point

    /// Handles one request at time `now` (a duration since any fixed origin).
    public mutating func handle(_ request: Request, now: Duration) -> Outcome {
        expireSessions(now: now)
        if let requiredToken {
            let bearer = request.header("Authorization").flatMap { value -> String? in
                value.hasPrefix("Bearer ") ? String(value.dropFirst(7)) : nil
            }
            let presented = request.header("X-Consul-Token") ?? bearer ?? request.queryValue("token")
            if presented != requiredToken { return .respond(text(403, "Permission denied")) }
        }
        let path = request.path
        if path.hasPrefix("/v1/kv/") {
            let key = String(path.dropFirst("/v1/kv/".count))
            switch request.method {
            case "GET": return kvGet(key, request)
            case "PUT": return .respond(kvPut(key, request, now: now))
            case "DELETE": return .respond(kvDelete(key, request))
            default: return .respond(text(405, "method \(request.method) not allowed"))
            }
        }
        if path.hasPrefix("/v1/session/") {
            return .respond(session(path: String(path.dropFirst("/v1/session/".count)), request, now: now))
        }
        if path == "/v1/txn" {
            guard request.method == "PUT" else { return .respond(text(405, "method \(request.method) not allowed")) }
            return .respond(transaction(request, now: now))
        }
        return .respond(text(404, "no handler for \(request.method) \(path)"))
    }

    /// The earliest time at which a session expires, so the server can wake up and reap it.
    public var nextExpiry: Duration? { sessions.values.compactMap(\.expiresAt).min() }

    // MARK: Helpers shared by the handlers

    mutating func bump() -> UInt64 {
        index += 1
        return index
    }

    func headers(index: UInt64, contentType: String = "application/json") -> [(name: String, value: String)] {
        [("Content-Type", contentType), ("X-Consul-Index", String(index)),
         ("X-Consul-KnownLeader", "true"), ("X-Consul-LastContact", "0")]
    }

    func json(_ status: Int, _ object: Any, index: UInt64? = nil) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed, .sortedKeys])) ?? Data("null".utf8)
        return Response(status: status, headers: headers(index: index ?? self.index), body: Array(data))
    }

    func text(_ status: Int, _ message: String) -> Response {
        Response(status: status, headers: headers(index: index, contentType: "text/plain; charset=utf-8"),
                 body: Array(message.utf8))
    }

    func render(_ key: String, _ entry: Entry) -> [String: Any] {
        var object: [String: Any] = [
            "Key": key, "Flags": entry.flags, "CreateIndex": entry.createIndex,
            "ModifyIndex": entry.modifyIndex, "LockIndex": entry.lockIndex,
            "Value": entry.value.isEmpty ? NSNull() : Data(entry.value).base64EncodedString() as Any,
        ]
        if let session = entry.session { object["Session"] = session }
        return object
    }

    static func parseUInt(_ text: String?) -> UInt64?? {
        guard let text else { return .some(nil) }
        guard let value = UInt64(text) else { return nil }
        return .some(value)
    }

    /// Parses Consul durations like `10s`, `5m`, `1h`, `15000ms` (Go duration syntax subset).
    static func parseDuration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let number = Double(text.dropLast(suffix.count)), number >= 0 else { return nil }
            return .nanoseconds(Int64(number * scale * 1e9))
        }
        if text == "0" { return .zero }
        return nil
    }
}
