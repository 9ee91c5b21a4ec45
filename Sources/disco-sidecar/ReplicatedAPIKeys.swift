import DiscoAuth
import DiscoCore
import DiscoNet
import NodeRuntime
import Sidecar
import SidecarProxy
import Synchronization

// MARK: - API keys in the cluster's replicated state

/// The API keys of every sidecar of the cluster, kept in the replicated key-value state
/// (namespace `sidecar.keys`, one key per `app_id`): a salted SHA-256 of the key, never the key,
/// and whether it was revoked. Every node reads its own applied copy, so a check costs no
/// network round trip; writes go through the leader (``Node/transact(_:)``).
final class ReplicatedAPIKeys: APIKeyStore {
    static let namespace = "sidecar.keys"
    private let node = Mutex<Node?>(nil)
    /// `-api-key-file`, when this node's sidecar checks that file's keys instead of these.
    private let file: String?
    /// `-api-key-max-staleness` (``APIKeySettings/maxStaleness``): nil is the node's
    /// ``Node/leaderSilenceBound``, zero never refuses keyed reads for the leader's silence.
    private let maxStaleness: Duration?

    /// The records decoded from the entries, by `app_id`, each with the revision it was decoded
    /// from: a request for a key unchanged since costs no JSON parse or base64 decode.
    private let decoded: APIKeyRecordCache

    /// - Parameters:
    ///   - file: the `-api-key-file` this node's sidecar checks instead (nil: it checks these keys).
    ///   - maxStaleness: `-api-key-max-staleness`.
    init(file: String? = nil, maxStaleness: Duration? = nil) {
        self.file = file
        self.maxStaleness = maxStaleness
        decoded = APIKeyRecordCache()
    }

    /// Set when the role starts (routes and checks before then find no keys).
    func attach(_ node: Node) {
        self.node.withLock { $0 = node }
        // Records decoded from another node's state are not this one's.
        decoded.removeAll()
    }

    /// The record of `appID` in this node's applied copy of the state (read under its lock, no
    /// wait): a revocation counts here as soon as this node has applied it. The entry is read
    /// every time; only its decoding is kept, for as long as the entry keeps its revision.
    func record(appID: String) -> APIKeyRecord? {
        guard let node = node.withLock({ $0 }), KVLimits.nameProblem(appID, what: "app_id") == nil else { return nil }
        let entry = node.keyValue(KVKey(Self.namespace, appID))
        return decoded.record(appID: appID, entry: entry.map { ($0.revision, $0.value) }) { APIKeyRecord(storedForm: $0, appID: appID) }
    }

    /// How current this node's copy of the keys is for a read (``APIKeyStore/readCurrency()``):
    /// it needs only word from the leader within `-api-key-max-staleness` (by default
    /// ``Node/leaderSilenceBound``; with 0 it needs none). Answered from the node's status, no wait.
    func readCurrency() -> APIKeyCurrency {
        guard let node = node.withLock({ $0 }) else { return .stale("the sidecar role has not started yet") }
        guard let problem = node.leaderSilenceProblem(bound: maxStaleness) else { return .current }
        return .stale("\(problem): a key revoked meanwhile may not have reached it")
    }

    /// How current this node's copy of the keys is for a write (``APIKeyStore/writeCurrency()``).
    /// A write this sidecar passes to its own upstream as the writer waits for a read barrier
    /// (``Node/readBarrier(timeout:)``): the node then holds every revocation committed before the
    /// request arrived, even when it lags (the hot replica on a follower) or no longer leads
    /// without knowing it yet.
    func writeCurrency() async -> APIKeyCurrency {
        guard let node = node.withLock({ $0 }) else { return .stale("the sidecar role has not started yet") }
        do {
            try await node.readBarrier(timeout: Self.applyWait)
            return .caughtUp
        } catch {
            return .stale("cannot confirm that node \(node.id) holds every key change the cluster committed: \(error.message)")
        }
    }

    // MARK: The API: POST /keys, GET /keys, DELETE /keys/{app_id}

    /// Bytes an app_id may not hold: it is the last segment of `DELETE /keys/{app_id}`'s path,
    /// taken as sent, where these separate or escape.
    static let notInPath: Set<UInt8> = [UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: "%")]

    /// The node API's key management (permission `keys-admin` with `-auth`). On a node whose
    /// sidecar checks `-api-key-file` they answer 409 naming the file: a key added there would be
    /// refused by that sidecar, and one revoked there still accepted.
    var routes: [APIRoute] {
        [APIRoute(["POST", "GET"], "/keys", permission: .keysAdmin) { request in
            if let error = APIQuery.refusal(request.query, of: "\(request.method) /keys",
                                            usage: #"POST takes {"app_id"} in the body; GET lists every key"#) {
                return error.response
            }
            if let refusal = self.fileRefusal(request) { return refusal }
            return await request.method == "POST" ? self.add(request) : self.list()
        },
         APIRoute(["DELETE"], "/keys", subpaths: true, permission: .keysAdmin) { request in
            if let refusal = self.fileRefusal(request) { return refusal }
            return await self.revoke(request)
        }]
    }

    private func fileRefusal(_ request: HTTPRequest) -> HTTPResponse? {
        guard let file else { return nil }
        return Self.error(409, "this node's sidecar checks the keys of -api-key-file \(file.debugDescription), not the cluster's: "
            + "change that file and restart the sidecar, or \(request.method) /keys on a node whose sidecar checks the cluster's keys")
    }

    /// `{"app_id": "…"}` (and optionally `"app_key"`): stores the key's salted hash and answers
    /// `{"app_id", "app_key"}` once (201); the key is not kept anywhere else. A live key of that
    /// `app_id` is a conflict (409): revoke it first.
    private func add(_ request: HTTPRequest) async -> HTTPResponse {
        guard let node = node.withLock({ $0 }) else { return Self.error(503, "the sidecar role has not started yet") }
        let usage = #"expected a JSON object such as {"app_id":"app1"} (and optionally "app_key")"#
        let body: JSONValue
        do throws(JSONParseError) {
            body = try JSONValue.parse(request.body)
        } catch {
            // What is wrong and where: a key given twice is named.
            return Self.error(400, request.body.isEmpty ? "the body is empty; \(usage)" : "the body is not JSON: \(error); \(usage)")
        }
        guard case .object = body else { return Self.error(400, usage) }
        guard let appID = body["app_id"]?.stringValue, (1...128).contains(appID.utf8.count),
              appID.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !Self.notInPath.contains($0) }) else {
            return Self.error(400, "\"app_id\" must be 1 to 128 visible ASCII characters without '/', '?', '#' or '%'")
        }
        if let object = body.objectValue, let unknown = object.keys.first(where: { $0 != "app_id" && $0 != "app_key" }) {
            return Self.error(400, "unknown field \(unknown.debugDescription); the fields are app_id and app_key")
        }
        let key: String
        if let given = body["app_key"] {
            guard let text = given.stringValue, text.utf8.count >= 16, text.utf8.count <= 256 else {
                return Self.error(400, "\"app_key\" must be a string of 16 to 256 bytes (leave it out to have one generated)")
            }
            // Clients send it in the app_key header, which drops surrounding spaces and tabs and
            // cannot carry a control character: such a key could never be presented.
            let blank: Set<UInt8> = [UInt8(ascii: " "), UInt8(ascii: "\t")]
            guard !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F }),
                  let first = text.utf8.first, let last = text.utf8.last, !blank.contains(first), !blank.contains(last) else {
                return Self.error(400, "\"app_key\" \(text.debugDescription) cannot be sent in the app_key header: it must not start or end "
                    + "with a space or tab, nor hold control characters (leave it out to have one generated)")
            }
            key = text
        } else {
            guard let generated = try? APIKey.generate() else { return Self.error(500, "cannot generate a key") }
            key = generated
        }
        guard let record = try? APIKeyRecord.hashing(appID: appID, key: key) else { return Self.error(500, "cannot hash the key") }
        let kvKey = KVKey(Self.namespace, appID)
        let existing = node.keyValue(kvKey)
        if let existing, let stored = APIKeyRecord(storedForm: existing.value, appID: appID), !stored.revoked {
            return Self.error(409, "app_id \(appID.debugDescription) already has a key; revoke it first (DELETE /keys/\(appID))")
        }
        let condition = existing.map { KVCondition(kvKey, revision: $0.revision) } ?? .absent(kvKey)
        do {
            switch try await node.transact(KVTransaction(conditions: [condition], operations: [.put(kvKey, record.storedForm)])) {
            case .committed(let revision, _):
                var answer = JSONObject()
                answer.append(key: "app_id", value: .string(appID))
                answer.append(key: "app_key", value: .string(key))
                return await Self.answer(answer, status: 201, onceApplied: revision, on: node)
            case .conflict:
                return Self.error(409, "app_id \(appID.debugDescription) changed meanwhile; try again")
            case .refused(let reason):
                return Self.error(507, "the cluster's key-value state is full: \(reason)")
            }
        } catch {
            return Self.error(error.code == .invalid ? 400 : 503, "the key was not stored: \(error)")
        }
    }

    /// `{"keys": [{"app_id", "revoked"}]}`, sorted by `app_id` (no hashes).
    private func list() async -> HTTPResponse {
        guard let node = node.withLock({ $0 }) else { return Self.error(503, "the sidecar role has not started yet") }
        let entries = node.keyValues(namespace: Self.namespace).entries
        let keys: [JSONValue] = entries.compactMap { entry in
            guard let record = APIKeyRecord(storedForm: entry.value, appID: entry.key.name) else { return nil }
            var object = JSONObject()
            object.append(key: "app_id", value: .string(entry.key.name))
            object.append(key: "revoked", value: .bool(record.revoked))
            return .object(object)
        }
        var answer = JSONObject()
        answer.append(key: "keys", value: .array(keys))
        return Self.json(.object(answer))
    }

    /// Marks the key revoked (kept, so a revoked key answers 403 "revoked" rather than "unknown").
    private func revoke(_ request: HTTPRequest) async -> HTTPResponse {
        guard let node = node.withLock({ $0 }) else { return Self.error(503, "the sidecar role has not started yet") }
        let appID = String(request.path.dropFirst("/keys/".count))
        // A query would cut the app_id short: `/keys/app1?x` must not revoke `app1`.
        guard request.query == nil else {
            return Self.error(400, "DELETE /keys/{app_id} takes no query; an app_id has no '?'")
        }
        guard !appID.isEmpty, KVLimits.nameProblem(appID, what: "app_id") == nil else {
            return Self.error(400, "name the key to revoke: DELETE /keys/{app_id}")
        }
        let kvKey = KVKey(Self.namespace, appID)
        guard let existing = node.keyValue(kvKey), var record = APIKeyRecord(storedForm: existing.value, appID: appID) else {
            return Self.error(404, "no key for app_id \(appID.debugDescription)")
        }
        record.revoked = true
        do {
            switch try await node.transact(KVTransaction(conditions: [KVCondition(kvKey, revision: existing.revision)],
                                                          operations: [.put(kvKey, record.storedForm)])) {
            case .committed(let revision, _):
                var answer = JSONObject()
                answer.append(key: "app_id", value: .string(appID))
                answer.append(key: "revoked", value: .bool(true))
                return await Self.answer(answer, status: 200, onceApplied: revision, on: node)
            case .conflict: return Self.error(409, "app_id \(appID.debugDescription) changed meanwhile; try again")
            case .refused(let reason): return Self.error(507, "the cluster's key-value state is full: \(reason)")
            }
        } catch {
            return Self.error(503, "the key was not revoked: \(error)")
        }
    }

    // MARK: Answers

    /// Longest wait for this node to apply a committed change before answering.
    static let applyWait = Duration.seconds(5)

    /// `answer` with `status` once this node has applied the change committed at
    /// `revision`: this node's sidecar checks keys from its own copy, and a follower applies a
    /// change a moment after the leader committed it, so answering at once would let a key just
    /// added be refused here, or one just revoked be accepted here, by a client that waited for
    /// the answer. When the node has not applied it within ``applyWait`` (it lags or is cut off
    /// from the leader), 202 with a `warning` saying so: the change is committed all the same.
    static func answer(_ answer: JSONObject, status: Int, onceApplied revision: UInt64, on node: Node) async -> HTTPResponse {
        guard await node.waitUntilApplied(revision, timeout: applyWait) else {
            var late = answer
            late.append(key: "warning", value: .string("committed, but this node has not applied it within \(GoDuration.format(applyWait)): "
                + "its sidecar (and others that lag) will check the change once they catch up"))
            return json(.object(late), status: 202)
        }
        return json(.object(answer), status: status)
    }

    static func json(_ value: JSONValue, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], bytes: value.encodedBytes() + [0x0A])
    }

    static func error(_ status: Int, _ message: String) -> HTTPResponse {
        var object = JSONObject()
        object.append(key: "error", value: .string(message))
        return json(.object(object), status: status)
    }
}
