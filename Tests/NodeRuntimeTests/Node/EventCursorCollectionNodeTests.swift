import DiscoCore
import DiscoLifecycle
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Synchronization
import Testing

/// The leader deletes consumer cursors that no consumer needs (behind the retention window, or
/// of a removed node's default consumer) once they have been left unchanged for the idle
/// period, and no other. The idle period is measured with a clock the test advances by hand, so
/// nothing here depends on how fast the machine runs.
@Suite struct EventCursorCollectionNodeTests {
    /// Consumes the events for `dns` as `live`, all the test long.
    struct LiveConsumer: Role {
        let name = "live"
        func run(_ context: RoleContext) async throws {
            try await cancelOnGracefulShutdown {
                try await context.consumeEvents(for: "dns", as: "live") { _ in }
            }
        }
    }

    static func key(_ name: String) -> KVKey { KVKey(Node.eventCursorNamespace, name) }

    static let idle = Duration.seconds(3600)

    /// The names of the cursors deleted, in order.
    final class Deletions: Sendable {
        let names = Mutex<[String]>([])
    }

    /// Watches the cursors for deletions.
    static func watchDeletions(_ node: Node) -> (Task<Void, Never>, Deletions) {
        let deleted = Deletions()
        let watch = node.watchKeyValues(namespace: Node.eventCursorNamespace, prefix: "")
        let task = Task {
            for await event in watch.changes {
                guard case .changed(let changes) = event else { continue }
                for change in changes where change.value == nil { deleted.names.withLock { $0.append(change.key.name) } }
            }
        }
        return (task, deleted)
    }

    /// Starts a node whose cursor collection runs on `clock`.
    static func start(_ configuration: NodeConfiguration, clock: ManualNow, roles: [any Role] = []) async throws -> RunningNode {
        let node = try await Node.start(configuration, logger: testLogger(), roles: roles)
        node.useCursorCollectionClock { clock.elapsed }
        return RunningNode(node)
    }

    /// Waits until the leader waits on `name` at its current revision.
    static func waitUntilSighted(_ node: Node, _ name: String) async throws {
        try await waitUntil("the leader to wait on \(name) at its current revision", timeout: .seconds(120)) {
            guard let revision = node.keyValue(Self.key(name))?.revision else { return false }
            return node.cursorSightings[Self.key(name)]?.revision == revision
        }
    }

    /// Two stopped consumers' cursors fall behind the window: the one left unchanged is deleted
    /// once idle for the idle period; the one acknowledged meanwhile (still behind) waits a full
    /// idle period from that acknowledgement. A running consumer's cursor is never deleted.
    @Test func aStoppedConsumersCursorBehindTheWindowIsDeletedOnceIdleAndARecentOneIsKept() async throws {
        var setup = try TestNodeSetup(id: "g1", prefix: "disco-cursor-gc")
        defer { setup.removeDirectory() }
        setup.configuration.eventLog.retention = EventRetention(maxEvents: 60, maxBytes: 0)
        setup.configuration.timing.cursorIdleDeletion = Self.idle
        let clock = ManualNow()
        let running = try await Self.start(setup.configuration, clock: clock, roles: [LiveConsumer()])
        let node = running.node
        try await waitUntil("g1 to lead", timeout: .seconds(120)) { node.keyValues(namespace: "x").revision > 0 }
        let (watching, deleted) = Self.watchDeletions(node)

        let first = try await node.appendEvent(["type": "a", "roles": ["dns"]])
        #expect(try await node.acknowledgeEvents(role: "dns", consumer: "gone", through: first) == first)
        #expect(try await node.acknowledgeEvents(role: "dns", consumer: "recent", through: first) == first)
        try await waitUntil("the live consumer to acknowledge event \(first)", timeout: .seconds(120)) {
            node.eventCursor(role: "dns", consumer: "live") == first
        }
        for n in 0..<100 { _ = try await node.appendEvent(["type": "w", "roles": ["web"], "n": .number(JSONNumber(n))]) }
        // The window then stays where it is: no event is appended after these.
        try await waitUntil("the log to be trimmed to its retention", timeout: .seconds(120)) {
            node.store.firstSeq > first + 2 && node.store.trimPoint(for: setup.configuration.eventLog.retention) == nil
        }
        try await waitUntil("the live consumer to move its cursor into the window", timeout: .seconds(120)) {
            node.eventCursor(role: "dns", consumer: "live") >= node.store.firstSeq
        }
        try await Self.waitUntilSighted(node, "dns/gone")
        try await Self.waitUntilSighted(node, "dns/recent")

        // Most of the idle period later, `recent` acknowledges, still behind the window.
        clock.advance(by: Self.idle - .seconds(600))
        #expect(try await node.acknowledgeEvents(role: "dns", consumer: "recent", through: first + 1) == first + 1)
        try await Self.waitUntilSighted(node, "dns/recent")
        #expect(node.keyValue(Self.key("dns/gone")) != nil, "deleted before the idle period was over")
        #expect(deleted.names.withLock { $0 }.isEmpty)

        clock.advance(by: .seconds(601))
        try await waitUntil("gone's cursor to be deleted", timeout: .seconds(120)) { node.keyValue(Self.key("dns/gone")) == nil }
        // Decided in the same look that deleted `gone`: `recent` waits on.
        #expect(node.eventCursor(role: "dns", consumer: "recent") == first + 1)
        #expect(node.cursorSightings[Self.key("dns/recent")]?.since == Self.idle - .seconds(600))
        #expect(node.keyValue(Self.key("dns/live")) != nil)
        // Gone's consumer, back, starts at the oldest retained event, as its trimmed cursor would have had it.
        guard case .page(let page) = await node.events(for: "web", since: node.eventCursor(role: "web", consumer: "gone"), limit: 1, wait: .zero)
        else { Issue.record("a consumer without a cursor was told events were trimmed"); return }
        #expect(page.events.first?.seq == node.store.firstSeq)

        clock.advance(by: Self.idle)
        try await waitUntil("recent's cursor to be deleted", timeout: .seconds(120)) { node.keyValue(Self.key("dns/recent")) == nil }
        try await waitUntil("the watch to see both deletions", timeout: .seconds(120)) { deleted.names.withLock { $0.count >= 2 } }
        #expect(deleted.names.withLock { $0 } == ["dns/gone", "dns/recent"])
        #expect(node.keyValue(Self.key("dns/live")) != nil)
        watching.cancel()
        #expect(await running.stop() == nil)
    }

    /// Removing a node makes its default consumer's cursors unneeded: they go once idle for the
    /// idle period. A member's default consumer and a consumer of another name keep theirs.
    @Test func aRemovedNodesDefaultConsumersCursorsAreDeletedOnceIdleAndAMembersAreNot() async throws {
        var first = try TestNodeSetup(id: "r1", prefix: "disco-cursor-gc")
        var second = try TestNodeSetup(id: "r2", prefix: "disco-cursor-gc")
        defer { first.removeDirectory(); second.removeDirectory() }
        first.configuration.timing.cursorIdleDeletion = Self.idle
        second.joinAsNonVoter(of: first)
        let clock = ManualNow()
        let leader = try await Self.start(first.configuration, clock: clock)
        try await waitUntil("r1 to lead", timeout: .seconds(120)) { leader.node.keyValues(namespace: "x").revision > 0 }
        let joiner = try await RunningNode.start(second.configuration)
        try await waitUntil("r2 to be a member", timeout: .seconds(120)) { leader.node.store.member("r2") != nil }

        let seq = try await leader.node.appendEvent(["type": "a", "roles": ["dns", "web"]])
        for (role, consumer) in [("dns", "r2"), ("web", "r2"), ("dns", "audit"), ("dns", "r1")] {
            _ = try await leader.node.acknowledgeEvents(role: role, consumer: consumer, through: seq)
        }
        let client = HTTPClient()
        let answer = try await client.send(HTTPClientRequest(method: "DELETE", url: first.apiURL + "/remove", body: Array(#"{"id":"r2"}"#.utf8)))
        #expect(answer.status == 200, "\(answer.bodyText)")
        try await Self.waitUntilSighted(leader.node, "dns/r2")
        try await Self.waitUntilSighted(leader.node, "web/r2")
        #expect(Set(leader.node.cursorSightings.keys) == [Self.key("dns/r2"), Self.key("web/r2")])

        clock.advance(by: Self.idle)
        try await waitUntil("r2's cursors to be deleted", timeout: .seconds(120)) {
            leader.node.keyValue(Self.key("dns/r2")) == nil && leader.node.keyValue(Self.key("web/r2")) == nil
        }
        #expect(leader.node.eventCursor(role: "dns", consumer: "audit") == seq)
        #expect(leader.node.eventCursor(role: "dns", consumer: "r1") == seq)
        #expect(leader.node.cursorSightings.isEmpty)
        // Removed, r2 stops by itself once it hears of it; a graceful stop does not wait for that.
        _ = await joiner.stop()
        #expect(await leader.stop() == nil)
        await client.shutdown()
    }
}
