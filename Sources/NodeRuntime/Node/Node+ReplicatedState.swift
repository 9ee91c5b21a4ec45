import DiscoCore
import DiscoNet

// MARK: - ReplicatedStateError

/// Why a write to the replicated key-value state did not complete.
public struct ReplicatedStateError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// The transaction is outside its limits (``KVTransaction/problem``); it never applies.
        case invalid
        /// No leader could take it (an election, a stopping node); nothing was written: retry.
        case unavailable
        /// The outcome is unknown (leadership changed after proposing): read before retrying.
        case unknown
        /// Anything else (refused credentials, a broken answer).
        case failed
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

// MARK: - Reading and writing the key-value state

extension Node {
    static let keyValueTransactionPath = "/kv/txn"

    /// The key's entry on this node (as far as it has applied the log).
    public func keyValue(_ key: KVKey) -> KVEntry? { store.keyValue(key) }

    /// The keys of `namespace` whose names start with `prefix`, as this node has applied them.
    public func keyValues(namespace: String, prefix: String = "") -> (entries: [KVEntry], revision: UInt64) {
        store.keyValues(namespace: namespace, prefix: prefix)
    }

    /// Waits until this node has applied the replicated state through `revision` (a committed
    /// write's revision: its Raft index, or any log index); false when `timeout` passed or the
    /// task was cancelled first. A follower applies a commit a moment after the leader answered it.
    public func waitUntilApplied(_ revision: UInt64, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !hasApplied(revision) {
            guard ContinuousClock.now < deadline, !Task.isCancelled else { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return true
    }

    /// The log index this node has applied through. The state's revision counts only the
    /// entries that change it; the engine's applied index also counts those that do not (a new
    /// leader's empty entry, a membership change), and moves only once the state has applied
    /// everything before it, so the larger of the two is what has been applied.
    var appliedIndex: UInt64 { max(stateRevision, consensus.status.appliedIndex) }

    /// Whether ``appliedIndex`` has reached `index` (the state's revision, cheaper, first).
    func hasApplied(_ index: UInt64) -> Bool {
        stateRevision >= index || consensus.status.appliedIndex >= index
    }

    /// The revision of an empty range is the state's applied index, read without copying any entry.
    private var stateRevision: UInt64 { store.keyValues(namespace: "", prefix: "\u{7F}").revision }

    /// A read of those keys and every later change to them (see ``KVWatch``).
    public func watchKeyValues(namespace: String, prefix: String = "") -> KVWatch {
        store.watchKeyValues(namespace: namespace, prefix: prefix)
    }

    /// Applies `transaction` to the cluster's key-value state and returns what it did once it is
    /// committed. The leader proposes it; any other node forwards it to the leader (with the
    /// `-join-as` credentials). A failed condition is a result (``KVTransactionResult/conflict(key:expected:found:)``),
    /// not an error.
    public func transact(_ transaction: KVTransaction) async throws(ReplicatedStateError) -> KVTransactionResult {
        let command: [UInt8]
        do {
            command = try ClusterCommand.kvTransaction(transaction).encode()
        } catch {
            throw ReplicatedStateError(.invalid, "transaction refused: \(error.message)")
        }
        return try await proposeKeyValue(command, forwardWith: joinCredentials, mayForward: true)
    }

    /// Proposes an encoded transaction here, or forwards it once to the leader.
    private func proposeKeyValue(_ command: [UInt8], forwardWith authorization: String?,
                                 mayForward: Bool) async throws(ReplicatedStateError) -> KVTransactionResult {
        do {
            let index = try await consensus.propose(command)
            guard case .keyValue(let result)? = store.result(at: index) else {
                throw ReplicatedStateError(.failed, "transaction committed at index \(index), but its result is not known here")
            }
            return result
        } catch let error as ConsensusError {
            switch error.code {
            case .notLeader:
                guard mayForward, let leaderID = error.leader ?? consensus.status.leader, leaderID != id, let leader = info(for: leaderID) else {
                    throw ReplicatedStateError(.unavailable, "no leader to take the transaction (\(error.message)); nothing was written: retry")
                }
                return try await forwardKeyValue(command, to: leader, authorization: authorization)
            case .unknown, .cancelled:
                throw ReplicatedStateError(.unknown, "the outcome is unknown: \(error.message); read the keys before retrying")
            case .busy, .notCommitted, .stopped:
                throw ReplicatedStateError(.unavailable, "\(error.message); nothing was written: retry")
            case .invalid, .learnerBehind, .failed:
                throw ReplicatedStateError(.failed, error.message)
            }
        } catch let error as ReplicatedStateError {
            throw error
        } catch {
            throw ReplicatedStateError(.failed, "\(error)")
        }
    }

    private func forwardKeyValue(_ command: [UInt8], to leader: LeaderInfo,
                                 authorization: String?) async throws(ReplicatedStateError) -> KVTransactionResult {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: Self.forwardedHeader, value: id.rawValue)
        if let authorization { headers.add(name: "Authorization", value: authorization) }
        let request = HTTPClientRequest(method: "POST", url: leader.apiAddress.url + Self.keyValueTransactionPath, headers: headers, body: command)
        let answer: HTTPClientResponse
        do {
            answer = try await client.send(request, timeout: .seconds(10))
        } catch let error as HTTPClientError where error.code == .connectFailed || error.code == .connectTimeout {
            throw ReplicatedStateError(.unavailable, "the leader \(leader.id) could not be reached (\(error)); nothing was written: retry")
        } catch {
            throw ReplicatedStateError(.unknown, "the leader \(leader.id) did not answer (\(error)): the outcome is unknown")
        }
        let body = try? JSONValue.parse(answer.body)
        if let result = body.flatMap(KVTransactionResult.init(json:)) { return result }
        let message = body?["error"]?.stringValue ?? answer.bodyText
        switch answer.status {
        case 503: throw ReplicatedStateError(message.contains("unknown") ? .unknown : .unavailable, "leader \(leader.id): \(message)")
        case 504: throw ReplicatedStateError(.unknown, "leader \(leader.id): \(message)")
        case 400: throw ReplicatedStateError(.invalid, "leader \(leader.id): \(message)")
        default: throw ReplicatedStateError(.failed, "leader \(leader.id) answered \(answer.status): \(message)")
        }
    }

    /// `POST /kv/txn`: a transaction encoded as a ``ClusterCommand`` (how nodes forward plug-in
    /// writes to the leader). Answers the result as JSON: 200 committed, 409 conflict or refused.
    /// An encoded event append (a role's ``appendEvent(_:idempotencyKey:)`` on a follower) is
    /// appended as `POST /events` appends it, answering `{"seq","index"}`.
    func postKeyValueTransaction(_ request: HTTPRequest) async -> HTTPResponse {
        if let error = APIQuery.refusal(request.query, of: "POST \(Self.keyValueTransactionPath)",
                                    usage: "the body is an encoded key-value transaction or event append") {
            return error.response
        }
        let command: ClusterCommand
        do {
            command = try ClusterCommand.decode(request.body)
        } catch {
            return APIResponse.error(400, "\(error); POST \(Self.keyValueTransactionPath) takes an encoded key-value transaction")
        }
        switch command {
        case .kvTransaction:
            break
        case .appendEvent(_, let data), .appendEventOnce(_, _, let data):
            // Checked and proposed here as a caller's append is, but as the node's own: a key in
            // the window answers its first append whatever the body. Not forwarded again (the
            // forwarded header makes a node that no longer leads answer 503).
            var headers = HTTPHeaders()
            headers.add(name: Self.forwardedHeader, value: request.headers[Self.forwardedHeader] ?? id.rawValue)
            if case .appendEventOnce(_, let key, _) = command { headers.add(name: Self.idempotencyKeyHeader, value: key) }
            return await postEvent(HTTPRequest(method: "POST", target: "/events", headers: headers, body: data), asNode: true)
        default:
            return APIResponse.error(400, "expected a key-value transaction (tag 7) or an event append (tag 4 or 6), found \(command)")
        }
        do {
            let result = try await proposeKeyValue(request.body, forwardWith: request.headers["Authorization"],
                                                   mayForward: request.headers[Self.forwardedHeader] == nil)
            return APIResponse.json(result.json, status: result.isCommitted ? 200 : 409)
        } catch {
            let status = switch error.code {
            case .invalid: 400
            case .unavailable, .unknown: 503
            case .failed: 500
            }
            return APIResponse.error(status, error.message)
        }
    }
}

// MARK: - JSON form of results

extension KVTransactionResult {
    var isCommitted: Bool {
        if case .committed = self { return true }
        return false
    }

    /// `{"result":"committed","revision","changes":[{"namespace","name","value" (base64, null when deleted),"revision"}]}`,
    /// `{"result":"conflict","error","namespace","name","expected","found"}` or `{"result":"refused","error"}`.
    var json: JSONValue {
        switch self {
        case .committed(let revision, let changes):
            return [
                "result": "committed", "revision": .number(JSONNumber(revision)),
                "changes": .array(changes.map { change in
                    [
                        "namespace": .string(change.key.namespace), "name": .string(change.key.name),
                        "value": change.value.map { .string(Base64.encode($0)) } ?? .null, "revision": .number(JSONNumber(change.revision)),
                    ]
                }),
            ]
        case .conflict(let key, let expected, let found):
            return [
                "result": "conflict", "error": .string("\(key) is at revision \(found), not \(expected); read it again"),
                "namespace": .string(key.namespace), "name": .string(key.name),
                "expected": .number(JSONNumber(expected)), "found": .number(JSONNumber(found)),
            ]
        case .refused(let reason):
            return ["result": "refused", "error": .string(reason)]
        }
    }

    /// Reads ``json``; nil for anything else.
    init?(json: JSONValue) {
        switch json["result"]?.stringValue {
        case "committed":
            guard let revision = json["revision"]?.numberValue?.uint64Value, let items = json["changes"]?.arrayValue else { return nil }
            var changes: [KVChange] = []
            for item in items {
                guard let namespace = item["namespace"]?.stringValue, let name = item["name"]?.stringValue,
                      let changed = item["revision"]?.numberValue?.uint64Value else { return nil }
                var value: [UInt8]?
                if let text = item["value"]?.stringValue {
                    guard let bytes = Base64.decode(text) else { return nil }
                    value = bytes
                }
                changes.append(KVChange(key: KVKey(namespace, name), value: value, revision: changed))
            }
            self = .committed(revision: revision, changes: changes)
        case "conflict":
            guard let namespace = json["namespace"]?.stringValue, let name = json["name"]?.stringValue,
                  let expected = json["expected"]?.numberValue?.uint64Value, let found = json["found"]?.numberValue?.uint64Value
            else { return nil }
            self = .conflict(key: KVKey(namespace, name), expected: expected, found: found)
        case "refused":
            guard let reason = json["error"]?.stringValue else { return nil }
            self = .refused(reason)
        default:
            return nil
        }
    }
}
