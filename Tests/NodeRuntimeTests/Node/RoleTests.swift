import DiscoCore
import DiscoLifecycle
import DiscoNet
import DiscoTestKit
import Foundation
import NodeRuntime
import Synchronization
import Testing

// MARK: - A test role

/// Observes the three streams a role gets, writes what it sees to the replicated key-value state,
/// serves `GET /test-role/seen`, reports a metric and a status field, and is not ready until it
/// has seen a leader.
final class ObservingRole: Role {
    struct Seen: Sendable {
        var leaders: [NodeID?] = []
        var memberRoles: [[String]] = []
        var events: [UInt64] = []
        var watched: [KVChange] = []
        var stopped = false
    }

    let name: String
    let seen = Mutex(Seen())

    init(name: String = "observer") { self.name = name }

    func run(_ context: RoleContext) async throws {
        let watch = context.node.watchKeyValues(namespace: "observer")
        try await cancelOnGracefulShutdown { [self] in
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await change in context.leadershipChanges() { self.seen.withLock { $0.leaders.append(change.leader) } }
                }
                group.addTask {
                    for await members in context.membershipChanges() {
                        self.seen.withLock { $0.memberRoles.append(members.flatMap(\.roles)) }
                    }
                }
                group.addTask {
                    for await event in context.events(after: 0) {
                        self.seen.withLock { $0.events.append(event.seq) }
                        // Each event is recorded in the replicated state, once.
                        _ = try? await context.node.transact(KVTransaction(
                            conditions: [.absent(KVKey("observer", "event-\(event.seq)"))],
                            operations: [.put(KVKey("observer", "event-\(event.seq)"), event.data)]))
                    }
                }
                group.addTask {
                    for await update in watch.changes {
                        if case .changed(let changes) = update { self.seen.withLock { $0.watched += changes } }
                    }
                }
            }
        }
        seen.withLock { $0.stopped = true }
    }

    var routes: [APIRoute] {
        [APIRoute(["GET"], "/test-role/seen", permission: .status) { [self] _ in
            let events = seen.withLock { $0.events }
            return HTTPResponse(status: 200, headers: ["Content-Type": "application/json"],
                                bytes: JSONValue.object(JSONObject([.init(key: "events", value: .number(JSONNumber(events.count)))])).encodedBytes())
        }]
    }

    func metricLines() async -> [String] { ["test_role_events_seen \(seen.withLock { $0.events.count })"] }

    func status() async -> JSONValue? { ["events_seen": .number(JSONNumber(seen.withLock { $0.events.count }))] }

    func readinessProblem() async -> String? {
        seen.withLock { $0.leaders.contains { $0 != nil } } ? nil : "no leader seen yet"
    }
}

// MARK: - Tests

@Suite struct RoleTests {
    @Test func aRoleSeesLeadershipMembershipAndEventsServesARouteAndUsesTheReplicatedState() async throws {
        var setup = try TestNodeSetup(id: "r1", prefix: "disco-role")
        defer { setup.removeDirectory() }
        setup.configuration.cluster.roles = ["host"]
        let role = ObservingRole()
        let running = try await RunningNode.start(setup.configuration, roles: [role])
        let client = HTTPClient()

        #expect(running.node.announcedRoles == ["host", "observer"])
        try await waitUntil("the role to see this node lead") { role.seen.withLock { $0.leaders.contains("r1") } }
        try await waitUntil("the member record with the node's roles") {
            role.seen.withLock { $0.memberRoles.last == ["host", "observer"] }
        }
        for body in [#"{"n":1}"#, #"{"n":2}"#] {
            let posted = try await client.send(HTTPClientRequest(method: "POST", url: setup.apiURL + "/events", body: Array(body.utf8)))
            #expect(posted.status == 200)
        }
        try await waitUntil("the role to record both events") { running.node.keyValues(namespace: "observer").entries.count == 2 }
        #expect(role.seen.withLock { $0.events } == [1, 2])
        #expect(running.node.keyValue(KVKey("observer", "event-2"))?.value == Array(#"{"n":2}"#.utf8))
        try await waitUntil("the watch to report both writes") { role.seen.withLock { $0.watched.count } == 2 }
        #expect(role.seen.withLock { $0.watched.map(\.key.name) } == ["event-1", "event-2"])

        // A second create of the same key is a conflict naming the revision it found.
        let revision = try #require(running.node.keyValue(KVKey("observer", "event-1"))?.revision)
        let again = try await running.node.transact(KVTransaction(conditions: [.absent(KVKey("observer", "event-1"))],
                                                                   operations: [.put(KVKey("observer", "event-1"), [])]))
        #expect(again == .conflict(key: KVKey("observer", "event-1"), expected: 0, found: revision))

        let route = try await client.send(HTTPClientRequest(url: setup.apiURL + "/test-role/seen"))
        #expect(route.status == 200)
        #expect(route.bodyText == #"{"events":2}"#)
        let metrics = try await client.send(HTTPClientRequest(url: setup.apiURL + "/metrics"))
        #expect(metrics.bodyText.contains("test_role_events_seen 2\n"))
        #expect(metrics.bodyText.contains("disco_kv_keys 2\n"))
        let status = try JSONValue.parse(try await client.send(HTTPClientRequest(url: setup.apiURL + "/status")).body)
        #expect(status["roles"]?["observer"]?["events_seen"] == 2)
        #expect(status["node"]?["roles"] == ["host", "observer"])
        let nodes = try JSONValue.parse(try await client.send(HTTPClientRequest(url: setup.apiURL + "/nodes?role=observer")).body)
        #expect(nodes.arrayValue?.map { $0["id"] } == ["r1"])
        #expect(nodes.arrayValue?.first?["roles"] == ["host", "observer"])
        let none = try JSONValue.parse(try await client.send(HTTPClientRequest(url: setup.apiURL + "/nodes?role=dns")).body)
        #expect(none.arrayValue?.isEmpty == true)
        let ready = try await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz"))
        #expect(ready.status == 200)

        #expect(await running.stop() == nil)
        #expect(role.seen.withLock { $0.stopped })
        await client.shutdown()
    }

    @Test func aRoleThatIsNotReadyMakesReadyzAnswer503NamingIt() async throws {
        struct Waiting: Role {
            let name = "waiting"
            func run(_ context: RoleContext) async throws { try await gracefulShutdown() }
            func readinessProblem() async -> String? { "upstream not checked yet" }
        }
        let setup = try TestNodeSetup(id: "w1", prefix: "disco-role-ready")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration, roles: [Waiting()])
        let client = HTTPClient()
        try await waitUntil("the node to lead") { running.node.keyValues(namespace: "x").revision > 0 }
        let ready = try await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz"))
        #expect(ready.status == 503)
        #expect(ready.bodyText.contains("not ready: role waiting: upstream not checked yet"))
        let alive = try await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz?noleader"))
        #expect(alive.status == 200, "liveness does not wait for the roles: \(alive.bodyText)")
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    @Test func aJoinerRecordsItsRolesAndItsWritesAreForwardedToTheLeader() async throws {
        let first = try TestNodeSetup(id: "k1", prefix: "disco-role-kv")
        var second = try TestNodeSetup(id: "k2", prefix: "disco-role-kv")
        defer {
            first.removeDirectory()
            second.removeDirectory()
        }
        second.configuration.cluster.roles = ["dns"]
        second.joinAsNonVoter(of: first)
        let leader = try await RunningNode.start(first.configuration)
        try await waitUntil("k1 to lead") { leader.node.keyValues(namespace: "x").revision > 0 }
        let follower = try await RunningNode.start(second.configuration)
        let client = HTTPClient()
        try await waitUntil("k2's record with its role on k1") {
            let answer = try? await client.send(HTTPClientRequest(url: first.apiURL + "/nodes?role=dns"))
            return answer?.bodyText.contains(#""id":"k2""#) == true
        }
        // A write on the follower is forwarded to the leader; both apply it. Until k2 has applied
        // the entry that names k1's address it answers "unavailable: nothing was written", and a
        // client retries.
        let key = KVKey("api-keys", "deploy-bot")
        let write = KVTransaction(conditions: [.absent(key)], operations: [.put(key, Array("hash".utf8))])
        var outcome: KVTransactionResult?
        try await waitUntil("k2 to forward the write to k1") {
            do {
                outcome = try await follower.node.transact(write)
                return true
            } catch let error as ReplicatedStateError where error.code == .unavailable {
                return false
            }
        }
        guard let result = outcome, case .committed(let revision, let changes) = result else {
            Issue.record("expected a commit, got \(String(describing: outcome))")
            return
        }
        #expect(changes == [KVChange(key: key, value: Array("hash".utf8), revision: revision)])
        #expect(leader.node.keyValue(key)?.revision == revision)
        try await waitUntil("k2 to apply its own write") { follower.node.keyValue(key)?.revision == revision }
        let stale = try await follower.node.transact(KVTransaction(conditions: [.absent(key)], operations: [.delete(key)]))
        #expect(stale == .conflict(key: key, expected: 0, found: revision))
        #expect(await follower.stop() == nil)
        #expect(await leader.stop() == nil)
        await client.shutdown()
    }

    @Test func routesThatCollideWithTheNodesOwnAreRefusedAtStart() async throws {
        struct Greedy: Role {
            let name = "greedy"
            func run(_ context: RoleContext) async throws {}
            var routes: [APIRoute] { [APIRoute(["GET"], "/status", permission: .status) { _ in HTTPResponse(status: 200, bytes: []) }] }
        }
        let setup = try TestNodeSetup(id: "g1", prefix: "disco-role-greedy")
        defer { setup.removeDirectory() }
        await #expect(throws: NodeStartupError.self) { _ = try await Node.start(setup.configuration, logger: testLogger(.critical), roles: [Greedy()]) }
    }

    @Test func aRoleThatFailsStopsTheNodeWithItsError() async throws {
        struct Failing: Role {
            struct Broken: Error {}
            let name = "failing"
            func run(_ context: RoleContext) async throws { throw Broken() }
        }
        let setup = try TestNodeSetup(id: "f1", prefix: "disco-role-fail")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration, logger: testLogger(.critical), roles: [Failing()])
        let failure = await running.outcome() as? NodeFailure
        #expect(failure?.message.hasPrefix("role failing failed: ") == true, "\(String(describing: failure))")
    }
}
