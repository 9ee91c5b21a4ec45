import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Testing

/// `POST /events` with an `Idempotency-Key` already used for another event is refused (422),
/// not answered as a replay that drops the new event unnoticed; a retry of the same event, in
/// the same bytes or written again, is still the replay. The node's own appends keep taking
/// what the log holds under the key.
@Suite struct EventsIdempotencyKeyReuseTests {
    static let first = #"{"type":"deploy","service":"web","version":"1.4.2","replicas":3,"note":"café"}"#

    static func post(_ client: HTTPClient, _ apiURL: String, _ body: String, key: String) async throws -> HTTPClientResponse {
        var headers = HTTPHeaders()
        headers.add(name: "Idempotency-Key", value: key)
        return try await client.send(HTTPClientRequest(method: "POST", url: apiURL + "/events", headers: headers, body: Array(body.utf8)),
                                     timeout: .seconds(30))
    }

    static func seq(_ answer: HTTPClientResponse) -> UInt64? {
        (try? JSONValue.parse(answer.body))?["seq"]?.numberValue?.uint64Value
    }

    /// The data of every retained event, oldest first.
    static func logged(_ node: Node) -> [String] {
        node.store.events(since: 0, limit: 1000).events.map { String(decoding: $0.data, as: UTF8.self) }
    }

    static func expectRefused(_ answer: HTTPClientResponse, key: String, seq: UInt64, _ what: String) throws {
        #expect(answer.status == 422, "\(what): \(answer.status) \(answer.bodyText)")
        #expect(answer.reason == "Unprocessable Content", "\(what)")
        #expect(answer.headers["Idempotent-Replayed"] == nil, "\(what)")
        let json = try JSONValue.parse(answer.body)
        let message = json["error"]?.stringValue ?? ""
        #expect(message.contains(#"Idempotency-Key "\#(key)""#) && message.contains("seq \(seq)"), "\(what): \(message)")
        #expect(message.contains("a key may be reused only to retry the same event: use a new key for a new event"), "\(what): \(message)")
        #expect(json["idempotency_key"]?.stringValue == key, "\(what)")
        #expect(json["first_append"]?["seq"]?.numberValue?.uint64Value == seq, "\(what)")
        #expect(json["seq"] == nil, "\(what): no seq a careless client could take for its append's")
    }

    /// On one node: another event under the key is refused and not appended; the same bytes,
    /// and the same value with other whitespace, member order and string escapes, replay;
    /// a number written otherwise (`3.0` for `3`) is another event.
    @Test func anotherEventUnderAUsedKeyIsRefusedAndTheSameEventReplays() async throws {
        let setup = try TestNodeSetup(id: "i1", prefix: "disco-idem-reuse")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        try await waitUntil("i1 to lead", timeout: .seconds(120)) { running.node.keyValues(namespace: "x").revision > 0 }

        let appended = try await Self.post(client, setup.apiURL, Self.first, key: "deploy-42")
        #expect(appended.status == 200 && appended.headers["Idempotent-Replayed"] == nil, "\(appended.bodyText)")
        let seq = try #require(Self.seq(appended))

        let other = #"{"type":"deploy","service":"web","version":"1.4.3","replicas":3,"note":"café"}"#
        try Self.expectRefused(try await Self.post(client, setup.apiURL, other, key: "deploy-42"), key: "deploy-42", seq: seq, "another event")
        let renumbered = #"{"type":"deploy","service":"web","version":"1.4.2","replicas":3.0,"note":"café"}"#
        try Self.expectRefused(try await Self.post(client, setup.apiURL, renumbered, key: "deploy-42"), key: "deploy-42", seq: seq, "3.0 for 3")
        try Self.expectRefused(try await Self.post(client, setup.apiURL, "not json", key: "deploy-42"), key: "deploy-42", seq: seq, "not JSON")

        let rewritten = "{ \"note\": \"caf\\u00e9\", \"replicas\": 3,\n  \"version\": \"1.4.2\", \"service\": \"web\", \"type\": \"deploy\" }"
        for (body, what) in [(Self.first, "the same bytes"), (rewritten, "the same value written again")] {
            let retry = try await Self.post(client, setup.apiURL, body, key: "deploy-42")
            #expect(retry.status == 200, "\(what): \(retry.bodyText)")
            #expect(Self.seq(retry) == seq && retry.headers["Idempotent-Replayed"] == "true", "\(what): \(retry.bodyText)")
        }
        #expect(Self.logged(running.node) == [Self.first])

        // A new key appends the other event.
        let fresh = try await Self.post(client, setup.apiURL, other, key: "deploy-43")
        #expect(fresh.status == 200 && Self.seq(fresh) == seq + 1, "\(fresh.bodyText)")
        #expect(Self.logged(running.node) == [Self.first, other])
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    /// Appends racing under one key, three events twice each: one event is appended; the
    /// requests with that event are answered with it, those with the others are refused, whether
    /// the key was in the window when they arrived or their entry committed after the first's.
    @Test func racingAppendsUnderOneKeyAppendOneEventAndRefuseTheOthers() async throws {
        let setup = try TestNodeSetup(id: "i2", prefix: "disco-idem-race")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        try await waitUntil("i2 to lead", timeout: .seconds(120)) { running.node.keyValues(namespace: "x").revision > 0 }

        let bodies = (0..<6).map { #"{"type":"job","n":\#($0 % 3)}"# }
        let apiURL = setup.apiURL
        let answers = try await withThrowingTaskGroup(of: (String, HTTPClientResponse).self) { group in
            for body in bodies {
                group.addTask { (body, try await Self.post(client, apiURL, body, key: "job-7")) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let log = Self.logged(running.node)
        #expect(log.count == 1)
        let winner = try #require(log.first)
        for (body, answer) in answers {
            if body == winner {
                #expect(answer.status == 200 && Self.seq(answer) == 1, "\(body): \(answer.status) \(answer.bodyText)")
            } else {
                try Self.expectRefused(answer, key: "job-7", seq: 1, body)
            }
        }
        #expect(answers.filter { $0.1.status == 200 && $0.1.headers["Idempotent-Replayed"] == nil }.count == 1)
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    /// Through a follower whose window does not have the key yet (it forwards every keyed
    /// append; ``WindowLaggingStore``): the leader's 422 for a caller's other event under a used
    /// key reaches the caller through the forward, and the retry of the same event replays; the
    /// node's own appends under the key, on the follower (forwarded as the node) and on the
    /// leader, take the first append whatever the body, as the host role relies on.
    @Test func aFollowerRelaysTheRefusalAndTheNodesOwnAppendsStillReplay() async throws {
        let first = try TestNodeSetup(id: "f1", prefix: "disco-idem-follower")
        var second = try TestNodeSetup(id: "f2", prefix: "disco-idem-follower")
        defer { first.removeDirectory(); second.removeDirectory() }
        second.joinAsNonVoter(of: first)
        let leader = try await RunningNode.start(first.configuration)
        try await waitUntil("f1 to lead", timeout: .seconds(120)) { leader.node.keyValues(namespace: "x").revision > 0 }
        let follower = try await RunningNode.start(second.configuration, components: { context in
            var components = try await NodeComponents.embedded(context)
            components.store = WindowLaggingStore(components.store)
            return components
        })
        try await waitUntil("f2 to be a member", timeout: .seconds(120)) { leader.node.store.member("f2") != nil }
        let client = HTTPClient()

        let appended = try await Self.post(client, first.apiURL, Self.first, key: "deploy-42")
        let seq = try #require(Self.seq(appended), "\(appended.bodyText)")
        let other = #"{"type":"deploy","service":"web","version":"9"}"#
        var refused: HTTPClientResponse?
        try await waitUntil("the follower to answer other than 503 (it learns the leader)", timeout: .seconds(120), retryingErrors: true) {
            refused = try await Self.post(client, second.apiURL, other, key: "deploy-42")
            return refused?.status != 503
        }
        try Self.expectRefused(try #require(refused), key: "deploy-42", seq: seq, "through the follower")
        let retry = try await Self.post(client, second.apiURL, Self.first, key: "deploy-42")
        #expect(retry.status == 200 && Self.seq(retry) == seq && retry.headers["Idempotent-Replayed"] == "true", "\(retry.bodyText)")

        // The node's own appends under the key, with other events: the first append's seq.
        #expect(try await follower.node.appendEvent(["type": "own", "from": "f2"], idempotencyKey: "deploy-42") == seq)
        #expect(try await leader.node.appendEvent(["type": "own", "from": "f1"], idempotencyKey: "deploy-42") == seq)
        #expect(Self.logged(leader.node) == [Self.first])

        // A caller's new event under a new key through the follower is appended (forwarded).
        let fresh = try await Self.post(client, second.apiURL, other, key: "deploy-43")
        #expect(fresh.status == 200 && Self.seq(fresh) == seq + 1, "\(fresh.bodyText)")
        #expect(Self.logged(leader.node) == [Self.first, other])
        _ = await follower.stop()
        #expect(await leader.stop() == nil)
        await client.shutdown()
    }

    /// When retention trimmed the first event, there is nothing to compare with: a reuse of
    /// its key, while still in the window, is answered as the replay it was before.
    @Test func aKeyWhoseFirstEventWasTrimmedStillReplays() async throws {
        var setup = try TestNodeSetup(id: "t1", prefix: "disco-idem-trimmed")
        defer { setup.removeDirectory() }
        setup.configuration.eventLog.retention = EventRetention(maxEvents: 1, maxBytes: 0)
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        try await waitUntil("t1 to lead", timeout: .seconds(120)) { running.node.keyValues(namespace: "x").revision > 0 }

        let appended = try await Self.post(client, setup.apiURL, Self.first, key: "deploy-42")
        let seq = try #require(Self.seq(appended), "\(appended.bodyText)")
        let next = try await Self.post(client, setup.apiURL, #"{"type":"later"}"#, key: "later-1")
        #expect(next.status == 200, "\(next.bodyText)")
        try await waitUntil("the first event to be trimmed", timeout: .seconds(120)) { running.node.store.firstSeq > seq }

        let reuse = try await Self.post(client, setup.apiURL, #"{"type":"other"}"#, key: "deploy-42")
        #expect(reuse.status == 200 && Self.seq(reuse) == seq && reuse.headers["Idempotent-Replayed"] == "true", "\(reuse.bodyText)")
        #expect(Self.logged(running.node) == [#"{"type":"later"}"#])
        #expect(await running.stop() == nil)
        await client.shutdown()
    }
}

/// A node's store whose idempotency window is always behind (no key found yet), as a follower's
/// is until it applies the first append: `POST /events` there forwards every keyed append.
struct WindowLaggingStore: ClusterStore {
    let store: any ClusterStore

    init(_ store: any ClusterStore) { self.store = store }

    func idempotentAppend(key: String) -> IdempotencyWindow.Record? { nil }

    var cluster: String? { store.cluster }
    var epoch: UInt64? { store.epoch }
    var members: [ClusterMember] { store.members }
    var membersWithAppliedIndex: (members: [ClusterMember], appliedIndex: UInt64) { store.membersWithAppliedIndex }
    func member(_ id: NodeID) -> ClusterMember? { store.member(id) }
    var lastSeq: UInt64 { store.lastSeq }
    var firstSeq: UInt64 { store.firstSeq }
    var retainedEvents: (count: Int, bytes: Int) { store.retainedEvents }
    func result(at index: UInt64) -> ApplyResult? { store.result(at: index) }
    var idempotencyKeys: Int { store.idempotencyKeys }
    func events(since seq: UInt64, limit: Int) -> EventPage { store.events(since: seq, limit: limit) }
    func waitForEvents(since seq: UInt64, limit: Int, timeout: Duration) async -> EventPage {
        await store.waitForEvents(since: seq, limit: limit, timeout: timeout)
    }
    func trimPoint(for retention: EventRetention) -> UInt64? { store.trimPoint(for: retention) }
    func changes() -> AsyncStream<ClusterStateChange> { store.changes() }
    func keyValue(_ key: KVKey) -> KVEntry? { store.keyValue(key) }
    func keyValues(namespace: String, prefix: String) -> (entries: [KVEntry], revision: UInt64) {
        store.keyValues(namespace: namespace, prefix: prefix)
    }
    var keyValueUsage: (keys: Int, bytes: Int) { store.keyValueUsage }
    func watchKeyValues(namespace: String, prefix: String) -> KVWatch { store.watchKeyValues(namespace: namespace, prefix: prefix) }
}
