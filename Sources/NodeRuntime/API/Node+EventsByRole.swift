import DiscoCore
import DiscoNet

// MARK: - Events for a role

/// A page of the events for one role (``Node/events(for:since:limit:wait:)``).
public struct RoleEventPage: Hashable, Sendable {
    /// The events for the role, in order.
    public var events: [ClusterEvent]
    /// The sequence number the read looked through: resume after it (events up to it that are
    /// not for the role were skipped).
    public var scannedThrough: UInt64
    /// The log's bounds at the read.
    public var firstSeq: UInt64
    public var lastSeq: UInt64
}

/// What a read of the events for a role found.
public enum RoleEventRead: Hashable, Sendable {
    case page(RoleEventPage)
    /// Events after the requested sequence number were trimmed before the reader saw them.
    case trimmed(EventPage)
}

extension Node {
    /// The namespace of the replicated key-value state holding consumer cursors.
    public static let eventCursorNamespace = "event-cursors"
    /// Longest consumer name, in bytes.
    public static let maxConsumerBytes = EventConsumerNames.maxBytes
    /// Events looked at per step while filtering.
    static let roleScanPage = 1000

    /// The events whose `roles` name `role` (``EventTarget``), after `since`: at most `limit`,
    /// and no more than `budget` allows (the first always), waiting up to `wait` for the first
    /// one. Events for other roles or for none are skipped. A `limit` below 1 is taken as 1.
    /// ``RoleEventPage/scannedThrough`` stops before the first event for the role that was
    /// left out.
    public func events(for role: String, since: UInt64, limit: Int, wait: Duration,
                       budget: EventPageBudget = EventPageBudget()) async -> RoleEventRead {
        await events(for: role, since: since, limit: limit, wait: wait, budget: budget, acknowledged: nil)
    }

    /// As above; with `acknowledged` (a consumer's stored cursor), a read that finds no event for
    /// the role returns as soon as it has looked past `acknowledged` while that is in the older
    /// half of the retained window, so the consumer can move its cursor before it falls behind.
    func events(for role: String, since: UInt64, limit: Int, wait: Duration, budget: EventPageBudget,
                acknowledged: UInt64?) async -> RoleEventRead {
        let limit = max(1, limit)
        let deadline = ContinuousClock.now + wait
        var cursor = since
        var found: [ClusterEvent] = []
        var budget = budget
        while true {
            let remaining = deadline - ContinuousClock.now
            var page = store.events(since: cursor, limit: Self.roleScanPage)
            if page.events.isEmpty, !page.missedEvents(since: cursor), remaining > .zero {
                page = await store.waitForEvents(since: cursor, limit: Self.roleScanPage, timeout: remaining)
            }
            if page.missedEvents(since: cursor) { return .trimmed(page) }
            for event in page.events {
                if event.target.isFor(role) {
                    // Full (and so not empty): the page ends before this event.
                    guard budget.take(event) else { break }
                    found.append(event)
                }
                cursor = event.seq
                if found.count == limit { break }
            }
            let behind = acknowledged.map { $0 < cursor && $0 < page.firstSeq / 2 + page.lastSeq / 2 } ?? false
            let done = !found.isEmpty || behind || page.events.isEmpty && (deadline - ContinuousClock.now <= .zero || Task.isCancelled)
            if done || Task.isCancelled {
                return .page(RoleEventPage(events: found, scannedThrough: cursor, firstSeq: page.firstSeq, lastSeq: page.lastSeq))
            }
        }
    }

    /// `GET /events?role=R&since=N&limit=L&wait=D`: the events for role `R`, bounded as the
    /// events without `role=` are, with `next_since` (resume there: events before it that are
    /// not for the role were skipped).
    func eventsForRole(_ role: String, since: UInt64, limit: Int, wait: Duration) async -> HTTPResponse {
        if let problem = RoleNames.problem(with: role) { return APIResponse.error(400, "role=\(role.debugDescription): \(problem)") }
        switch await events(for: role, since: since, limit: limit, wait: wait) {
        case .trimmed(let page):
            return Self.trimmed(since: since, page: page)
        case .page(let page):
            var output = Array(#"{"role":"#.utf8)
            output += JSONValue.string(role).encodedBytes()
            output += Array(#","events":["#.utf8)
            for (position, event) in page.events.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                event.encodeJSON(into: &output)
            }
            output += Array(#"],"first_seq":\#(page.firstSeq),"last_seq":\#(page.lastSeq),"next_since":\#(page.scannedThrough)}"#.utf8)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            return HTTPResponse(status: 200, headers: headers, bytes: output)
        }
    }

    // MARK: Consumer cursors

    /// Nil when `consumer` can name a cursor (1 to 128 bytes, no whitespace or control
    /// characters, no `/`); else what is wrong.
    public static func consumerProblem(_ consumer: String) -> String? { EventConsumerNames.problem(with: consumer) }

    /// The consumer name a node with ID `id` consumes as by default: the ID itself when it can
    /// name a cursor; else (an ID with `/`, or longer than ``maxConsumerBytes``) the ID's first
    /// characters with `/` as `_`, then `~` and the 64-bit FNV-1a hash of the whole ID, so it
    /// stays the same across restarts and differs between IDs.
    public static func defaultConsumer(for id: NodeID) -> String {
        let raw = id.rawValue
        guard consumerProblem(raw) != nil else { return raw }
        var readable = ""
        var bytes = 0
        for scalar in raw.unicodeScalars {
            let width = String(scalar).utf8.count
            guard bytes + width <= 96 else { break }
            readable.unicodeScalars.append(scalar == "/" ? "_" : scalar)
            bytes += width
        }
        let hash = raw.utf8.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        return readable + "~" + String(hash, radix: 16)
    }

    static func cursorKey(role: String, consumer: String) -> KVKey { KVKey(eventCursorNamespace, "\(role)/\(consumer)") }

    /// The last event `consumer` acknowledged for `role` (0: none), as this node has applied it.
    public func eventCursor(role: String, consumer: String) -> UInt64 {
        Self.cursorValue(keyValue(Self.cursorKey(role: role, consumer: consumer)))
    }

    static func cursorValue(_ entry: KVEntry?) -> UInt64 {
        entry.flatMap { UInt64(String(decoding: $0.value, as: UTF8.self)) } ?? 0
    }

    /// Moves `consumer`'s cursor for `role` forward to `seq` in the replicated state (never
    /// back: an older acknowledgement leaves it where it is) and returns where it is now.
    public func acknowledgeEvents(role: String, consumer: String, through seq: UInt64) async throws(ReplicatedStateError) -> UInt64 {
        if let problem = RoleNames.problem(with: role) { throw ReplicatedStateError(.invalid, problem) }
        if let problem = Self.consumerProblem(consumer) { throw ReplicatedStateError(.invalid, problem) }
        let key = Self.cursorKey(role: role, consumer: consumer)
        for _ in 0..<20 {
            let entry = keyValue(key)
            let current = Self.cursorValue(entry)
            if current >= seq { return current }
            let result = try await transact(KVTransaction(conditions: [KVCondition(key, revision: entry?.revision ?? 0)],
                                                          operations: [.put(key, Array(String(seq).utf8))]))
            switch result {
            case .committed:
                return seq
            case .conflict(_, _, let found):
                // Another acknowledgement moved it: read it once this node has applied it.
                for _ in 0..<100 where (keyValue(key)?.revision ?? 0) < found {
                    try? await Task.sleep(for: .milliseconds(10))
                }
            case .refused(let reason):
                throw ReplicatedStateError(.invalid, reason)
            }
        }
        throw ReplicatedStateError(.unavailable, "the cursor of \(consumer) for \(role) kept changing under this acknowledgement; retry")
    }

    /// `POST /events/ack` with `{"role":"dns","consumer":"c1","seq":N}`: moves the consumer's
    /// cursor to `seq`; answers `{"role","consumer","seq"}` with where it is.
    func postEventAck(_ request: HTTPRequest) async -> HTTPResponse {
        let usage = #"POST /events/ack takes {"role":"dns","consumer":"c1","seq":12}"#
        if let error = APIQuery.refusal(request.query, of: "POST /events/ack", usage: usage) { return error.response }
        let body: JSONValue
        switch parseJSONBody(request.body, usage: usage) {
        case .success(let parsed): body = parsed
        case .failure(let error): return error.response
        }
        guard let object = body.objectValue else { return APIResponse.error(400, "the body must be a JSON object; \(usage)") }
        if let error = unknownFieldError(in: object, taking: ["role", "consumer", "seq"], usage: usage) { return error.response }
        guard let role = body["role"]?.stringValue else { return APIResponse.error(400, "\"role\" is missing or not a string; \(usage)") }
        guard let consumer = body["consumer"]?.stringValue else {
            return APIResponse.error(400, "\"consumer\" is missing or not a string; \(usage)")
        }
        guard let seq = body["seq"]?.numberValue?.uint64Value else {
            return APIResponse.error(400, "\"seq\" is missing or not a whole number; \(usage)")
        }
        if let problem = RoleNames.problem(with: role) { return APIResponse.error(400, "\"role\": \(problem)") }
        if let problem = Self.consumerProblem(consumer) { return APIResponse.error(400, "\"consumer\": \(problem)") }
        guard seq <= store.lastSeq else {
            return APIResponse.error(400, "seq \(seq) is beyond the last event this node has applied (\(store.lastSeq)); acknowledge a seq you have read")
        }
        do {
            let stored = try await acknowledgeEvents(role: role, consumer: consumer, through: seq)
            return APIResponse.json(Self.cursorJSON(role: role, consumer: consumer, seq: stored))
        } catch {
            let status = switch error.code {
            case .invalid: 400
            case .unavailable, .unknown: 503
            case .failed: 500
            }
            return APIResponse.error(status, error.message)
        }
    }

    /// `GET /events/cursor?role=dns&consumer=c1`: `{"role","consumer","seq"}` (seq 0: none yet).
    func getEventCursor(_ request: HTTPRequest) -> HTTPResponse {
        let query: [String: String]
        switch APIQuery.parse(request.query, of: "GET /events/cursor", taking: ["role", "consumer"]) {
        case .success(let parsed): query = parsed
        case .failure(let error): return error.response
        }
        guard let role = query["role"], let consumer = query["consumer"] else {
            return APIResponse.error(400, "GET /events/cursor needs role= and consumer=, e.g. /events/cursor?role=dns&consumer=c1")
        }
        if let problem = RoleNames.problem(with: role) { return APIResponse.error(400, "role=: \(problem)") }
        if let problem = Self.consumerProblem(consumer) { return APIResponse.error(400, "consumer=: \(problem)") }
        return APIResponse.json(Self.cursorJSON(role: role, consumer: consumer, seq: eventCursor(role: role, consumer: consumer)))
    }

    static func cursorJSON(role: String, consumer: String, seq: UInt64) -> JSONValue {
        ["role": .string(role), "consumer": .string(consumer), "seq": .number(JSONNumber(seq))]
    }

    // MARK: Appending from a plug-in

    /// Appends `event` (one JSON value; its `type` and `roles` as for `POST /events`) to the
    /// replicated log and returns its sequence number. The leader proposes it; another node
    /// forwards it as its key-value writes (`POST /kv/txn` with the `-join-as` credentials: the
    /// `join` permission, not `events-write`). With `idempotencyKey`, appends made with
    /// the same key within the window are one append.
    public func appendEvent(_ event: JSONValue, idempotencyKey: String? = nil) async throws(ReplicatedStateError) -> UInt64 {
        var headers = HTTPHeaders()
        if let idempotencyKey { headers.add(name: Self.idempotencyKeyHeader, value: idempotencyKey) }
        // Sent on only to a leader of an earlier version, which takes appends at POST /events alone.
        if let joinCredentials { headers.add(name: "Authorization", value: joinCredentials) }
        let answer = await postEvent(HTTPRequest(method: "POST", target: "/events", headers: headers, body: event.encodedBytes()), asNode: true)
        let body = answer.body.fixedBytes.flatMap { try? JSONValue.parse($0) }
        if answer.status == 200, let seq = body?["seq"]?.numberValue?.uint64Value { return seq }
        let message = body?["error"]?.stringValue ?? "answer \(answer.status)"
        switch answer.status {
        case 400, 413: throw ReplicatedStateError(.invalid, message)
        case 503: throw ReplicatedStateError(message.contains("unknown") ? .unknown : .unavailable, message)
        case 504: throw ReplicatedStateError(.unknown, message)
        default: throw ReplicatedStateError(.failed, message)
        }
    }
}
