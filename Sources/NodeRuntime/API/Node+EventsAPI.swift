import DiscoCore
import Synchronization
import DiscoNet
import Foundation

// MARK: - Event log

extension Node {
    static let forwardedHeader = "X-Disco-Forwarded"
    static let idempotencyKeyHeader = "Idempotency-Key"
    /// Set on an answer that repeats the first append of an idempotency key.
    static let replayedHeader = "Idempotent-Replayed"
    static let maxEventBytes = 1 << 20

    /// `POST /events`: appends any JSON value to the replicated event log. The leader proposes
    /// it; a follower forwards the request to the leader once. With an `Idempotency-Key` header,
    /// a retry whose key is still in the replicated window (``IdempotencyWindow``) answers the
    /// first append's `{"seq","index"}` (and `Idempotent-Replayed: true`) instead of appending
    /// again, on whichever node it arrives, provided the body is the event the first append made
    /// (``replay(key:seq:index:body:asNode:)``; another event gets 422). With `asNode` (an append
    /// of the node's own, from ``appendEvent(_:idempotencyKey:)``, or one a follower forwarded as
    /// the node) a key in the window answers the first append whatever the body, and a follower
    /// forwards the encoded append as the node (``forwardAsNode(_:key:to:)``), not as a caller's
    /// `POST /events`.
    func postEvent(_ request: HTTPRequest, asNode: Bool = false) async -> HTTPResponse {
        if let error = APIQuery.refusal(request.query, of: "POST /events", usage: "the body is the event, one JSON value") {
            return error.response
        }
        let keys = request.headers.values(for: Self.idempotencyKeyHeader)
        guard keys.count <= 1 else {
            return APIResponse.error(400, "\(keys.count) \(Self.idempotencyKeyHeader) headers; send one, the same on every retry of this append")
        }
        let key = keys.first
        if let key, let problem = IdempotencyWindow.problem(with: key) {
            return APIResponse.error(400, "\(Self.idempotencyKeyHeader) \(key.debugDescription) \(problem)")
        }
        if let key, let first = store.idempotentAppend(key: key) {
            return replay(key: key, seq: first.seq, index: first.index, body: request.body, asNode: asNode)
        }
        guard request.body.count <= Self.maxEventBytes else {
            return APIResponse.error(413, "event is \(request.body.count) bytes; the limit is \(Self.maxEventBytes) bytes")
        }
        guard !request.body.isEmpty else {
            return APIResponse.error(400, "empty body; POST /events takes one JSON value, e.g. {\"type\":\"deploy\"}")
        }
        let value: JSONValue
        do throws(JSONParseError) {
            // I-JSON (RFC 7493): numbers every reader of the log holds exactly.
            value = try JSONValue.parse(request.body, numbers: .interoperable)
        } catch {
            return APIResponse.error(400, "event refused: \(error); POST /events takes one JSON value")
        }
        do throws(EventTargetError) {
            _ = try EventTarget(event: value)
        } catch {
            return APIResponse.error(400, "event refused: \(error.message) (an event's optional \"type\" and \"roles\" say what it is and who consumes it)")
        }
        let timeMillis = Int64(Date().timeIntervalSince1970 * 1000)
        // Encoding checks the size and, again, that the body is one JSON value.
        let command: [UInt8]
        do {
            command = try (key.map { ClusterCommand.appendEventOnce(timeMillis: timeMillis, key: $0, data: request.body) }
                ?? ClusterCommand.appendEvent(timeMillis: timeMillis, data: request.body)).encode()
        } catch {
            return APIResponse.error(error.code == .tooLarge ? 413 : 400,
                                     "event refused: \(error.message); POST /events takes one JSON value")
        }
        do {
            let index = try await consensus.propose(command)
            switch store.result(at: index) {
            case .eventAppended(let seq)?:
                metrics.eventsAppended.add(1, ordering: .relaxed)
                return Self.appended(seq: seq, index: index, replayed: false)
            case .eventDuplicate(let seq, let first)?:
                // A concurrent append with the same key committed first.
                if let key { return replay(key: key, seq: seq, index: first, body: request.body, asNode: asNode) }
                return Self.appended(seq: seq, index: first, replayed: true)
            default:
                return APIResponse.error(500, "event committed at index \(index) but the state machine did not append it")
            }
        } catch let error as ConsensusError where error.code == .notLeader {
            guard request.headers[Self.forwardedHeader] == nil else {
                return APIResponse.error(503, "forwarded to a node that is not the leader (leadership is changing); retry")
            }
            guard let leaderID = error.leader ?? consensus.status.leader, leaderID != id, let leader = info(for: leaderID) else {
                return APIResponse.error(503, "no leader yet; retry")
            }
            if asNode {
                let answer = await forwardAsNode(command, key: key, to: leader)
                // A leader of an earlier version takes only key-value transactions there.
                let earlier = answer.status == 400 && answer.body.fixedBytes.map { String(decoding: $0, as: UTF8.self) }?
                    .contains("expected a key-value transaction (tag 7), found") == true
                guard earlier else { return answer }
            }
            return await forward(request, to: leader)
        } catch let error as ConsensusError where error.code == .unknown {
            return APIResponse.error(503, "the outcome is unknown: \(error.message); the event may have been appended. " + Self.retryAdvice(key))
        } catch {
            return Self.response(for: error)
        }
    }

    /// `{"seq","index"}`, marked when it repeats an earlier append of the same idempotency key.
    static func appended(seq: UInt64, index: UInt64, replayed: Bool) -> HTTPResponse {
        var headers = HTTPHeaders()
        if replayed { headers.add(name: replayedHeader, value: "true") }
        return APIResponse.json(["seq": .number(JSONNumber(seq)), "index": .number(JSONNumber(index))], headers: headers)
    }

    /// What a client whose append has an unknown outcome should do.
    static func retryAdvice(_ key: String?) -> String {
        if let key {
            return "Retry with the same \(idempotencyKeyHeader) \(key.debugDescription): within the window (an hour, "
                + "\(IdempotencyWindow.maxKeys) keys) it is appended at most once"
        }
        return "A retry without an \(idempotencyKeyHeader) header may append it twice; send one to make retries safe"
    }

    /// Sends the request on to the leader and relays its answer.
    func forward(_ request: HTTPRequest, to leader: LeaderInfo) async -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: Self.forwardedHeader, value: id.rawValue)
        // The leader checks the caller's credentials again (every node reads the same -auth file).
        if let authorization = request.headers["Authorization"] { headers.add(name: "Authorization", value: authorization) }
        let key = request.headers[Self.idempotencyKeyHeader]
        if let key { headers.add(name: Self.idempotencyKeyHeader, value: key) }
        return await relay(HTTPClientRequest(method: request.method, url: leader.apiAddress.url + request.target,
                                             headers: headers, body: request.body), to: leader, key: key)
    }

    /// Sends an encoded append of the node's own (a role's) to the leader as the node: to
    /// `POST /kv/txn` with the `-join-as` credentials, as its key-value writes go, and relays
    /// the answer (`{"seq","index"}`).
    func forwardAsNode(_ command: [UInt8], key: String?, to leader: LeaderInfo) async -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: Self.forwardedHeader, value: id.rawValue)
        if let joinCredentials { headers.add(name: "Authorization", value: joinCredentials) }
        return await relay(HTTPClientRequest(method: "POST", url: leader.apiAddress.url + Self.keyValueTransactionPath,
                                             headers: headers, body: command), to: leader, key: key)
    }

    private func relay(_ outgoing: HTTPClientRequest, to leader: LeaderInfo, key: String?) async -> HTTPResponse {
        do {
            let answer = try await client.send(outgoing, timeout: .seconds(10))
            var relayed = HTTPHeaders()
            relayed.add(name: "Content-Type", value: answer.headers["Content-Type"] ?? "application/json")
            if let replayed = answer.headers[Self.replayedHeader] { relayed.add(name: Self.replayedHeader, value: replayed) }
            return HTTPResponse(status: answer.status, headers: relayed, bytes: answer.body)
        } catch let error as HTTPClientError where error.code == .connectFailed || error.code == .connectTimeout {
            return APIResponse.error(503, "the leader \(leader.id) at \(leader.apiAddress.url) could not be reached (\(error)); "
                + "nothing was appended: retry")
        } catch {
            return APIResponse.error(504, "the request was forwarded to the leader \(leader.id) at \(leader.apiAddress.url), which did not "
                + "answer (\(error)): the outcome is unknown, the event may have been appended. " + Self.retryAdvice(key))
        }
    }

    /// `GET /events?since=N&limit=L&wait=5s`: events after `since`, waiting up to `wait` for one,
    /// at most `limit` and at most ``EventPageBudget/standardBytes`` of encoded events (the first
    /// always), with `next_since`, the last one's `seq`; 410 when events after `since` were trimmed before the reader saw them. With `role=R`, only
    /// the events for that role (``eventsForRole(_:since:limit:wait:)``).
    func getEvents(_ request: HTTPRequest) async -> HTTPResponse {
        let query: [String: String]
        switch APIQuery.parse(request.query, of: "GET /events", taking: ["since", "limit", "wait", "role"]) {
        case .success(let parsed): query = parsed
        case .failure(let error): return error.response
        }
        var since: UInt64 = 0
        if let text = query["since"] {
            guard let value = UInt64(text) else {
                return APIResponse.error(400, "since=\(text.debugDescription) is not a sequence number; use since=0 or a seq from an earlier answer")
            }
            since = value
        }
        var limit = 100
        if let text = query["limit"] {
            guard let value = Int(text), (1...1000).contains(value) else {
                return APIResponse.error(400, "limit=\(text.debugDescription) must be a whole number from 1 to 1000")
            }
            limit = value
        }
        var wait: Duration = .zero
        if let text = query["wait"] {
            do {
                wait = try GoDuration.parse(text)
            } catch {
                return APIResponse.error(400, "wait=\(text.debugDescription): \(error.reason); use a duration such as 5s or 500ms")
            }
            guard wait >= .zero, wait <= .seconds(60) else {
                return APIResponse.error(400, "wait=\(text) must be between 0s and 60s")
            }
        }
        let (store, read) = (store, (since: since, limit: limit, wait: wait))
        if let role = query["role"] {
            guard wait > .zero else { return await eventsForRole(role, since: since, limit: limit, wait: wait) }
            return await longPolls.run { await self.eventsForRole(role, since: read.since, limit: read.limit, wait: read.wait) }
        }
        let found = wait > .zero
            ? await longPolls.run { await store.waitForEvents(since: read.since, limit: read.limit, timeout: read.wait) }
            : store.events(since: since, limit: limit)
        if found.missedEvents(since: since) { return Self.trimmed(since: since, page: found) }
        // At most `limit` events and ``EventPageBudget/standardBytes`` of them (one at least):
        // `next_since` then names the last one sent.
        let page = found.bounded(by: EventPageBudget())
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: 200, headers: headers, bytes: ClusterEvent.eventsResponseJSON(page, since: since))
    }

    /// 410: events after `since` were trimmed before the reader saw them.
    static func trimmed(since: UInt64, page: EventPage) -> HTTPResponse {
        APIResponse.error(410, "events \(since + 1)...\(page.firstSeq - 1) were trimmed by the retention policy; "
                          + "the oldest retained is \(page.firstSeq): resume with since=\(page.firstSeq - 1), or since=0 to start over",
                          extra: [.init(key: "first_seq", value: .number(JSONNumber(page.firstSeq))),
                                  .init(key: "last_seq", value: .number(JSONNumber(page.lastSeq)))])
    }

    /// Maps a consensus failure to a status code and a message.
    static func response(for error: any Error) -> HTTPResponse {
        guard let error = error as? ConsensusError else { return APIResponse.error(500, "\(error)") }
        switch error.code {
        case .notLeader: return APIResponse.error(503, "no leader yet: \(error.message); retry")
        case .busy: return APIResponse.error(503, "\(error.message); retry")
        case .learnerBehind, .invalid: return APIResponse.error(409, error.message)
        case .notCommitted: return APIResponse.error(503, "\(error.message); it will never be applied, so retrying is safe")
        case .stopped: return APIResponse.error(503, "the node is shutting down: \(error.message)")
        case .unknown: return APIResponse.error(503, "outcome unknown (leadership changed): \(error.message); check before retrying")
        case .cancelled: return APIResponse.error(503, "the request was abandoned: \(error.message); check before retrying")
        case .failed: return APIResponse.error(500, error.message)
        }
    }
}
