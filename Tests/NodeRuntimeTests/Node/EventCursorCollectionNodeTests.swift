import DiscoCore
import DiscoLifecycle
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Synchronization
import Testing

/// The leader deletes consumer cursors that no consumer needs (behind the retention window, or
/// of a removed node's default consumer), and never the cursor of a consumer that is running.
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

    /// The names of the cursors deleted, in order.
    final class Deletions: Sendable {
        let names = Mutex<[String]>([])
    }

    /// Watches the cursors under `dns/` for deletions.
    static func watchDeletions(_ node: Node) -> (Task<Void, Never>, Deletions) {
        let deleted = Deletions()
        let watch = node.watchKeyValues(namespace: Node.eventCursorNamespace, prefix: "dns/")
        let task = Task {
            for await event in watch.changes {
                guard case .changed(let changes) = event else { continue }
                for change in changes where change.value == nil { deleted.names.withLock { $0.append(change.key.name) } }
            }
        }
        return (task, deleted)
    }

    /// A consumer that stopped at event 1 loses its cursor once event 1 is trimmed; a running
    /// consumer of the same role, which sees no event of its own meanwhile, keeps its cursor
    /// inside the window throughout and never loses it.
    @Test func aCursorBehindTheWindowIsDeletedAndARunningConsumersNeverIs() async throws {
        var setup = try TestNodeSetup(id: "g1", prefix: "disco-cursor-gc")
        defer { setup.removeDirectory() }
        setup.configuration.eventLog.retention = EventRetention(maxEvents: 60, maxBytes: 0)
        let running = try await RunningNode.start(setup.configuration, roles: [LiveConsumer()])
        let node = running.node
        try await waitUntil("g1 to lead", timeout: .seconds(120)) { node.keyValues(namespace: "x").revision > 0 }
        let (watching, deleted) = Self.watchDeletions(node)

        let first = try await node.appendEvent(["type": "a", "roles": ["dns"]])
        #expect(try await node.acknowledgeEvents(role: "dns", consumer: "gone", through: first) == first)
        try await waitUntil("the live consumer to acknowledge event \(first)", timeout: .seconds(120)) {
            node.eventCursor(role: "dns", consumer: "live") == first
        }
        for n in 0..<240 { _ = try await node.appendEvent(["type": "w", "roles": ["web"], "n": .number(JSONNumber(n))]) }
        try await waitUntil("gone's cursor to be deleted", timeout: .seconds(120)) { node.keyValue(Self.key("dns/gone")) == nil }
        try await waitUntil("the watch to see the deletion", timeout: .seconds(120)) { deleted.names.withLock { $0.contains("dns/gone") } }

        #expect(node.store.firstSeq > first + 1)
        #expect(deleted.names.withLock { $0 } == ["dns/gone"])
        #expect(node.eventCursor(role: "dns", consumer: "live") + 1 >= node.store.firstSeq)
        // Gone's consumer, back, starts at the oldest retained event, as its trimmed cursor would have had it.
        guard case .page(let page) = await node.events(for: "web", since: node.eventCursor(role: "web", consumer: "gone"), limit: 1, wait: .zero)
        else { Issue.record("a consumer without a cursor was told events were trimmed"); return }
        #expect(page.events.first?.seq == node.store.firstSeq)
        watching.cancel()
        #expect(await running.stop() == nil)
    }

    /// Removing a node deletes its default consumer's cursors; other consumers keep theirs.
    @Test func removingANodeDeletesItsDefaultConsumersCursors() async throws {
        let first = try TestNodeSetup(id: "r1", prefix: "disco-cursor-gc")
        var second = try TestNodeSetup(id: "r2", prefix: "disco-cursor-gc")
        defer { first.removeDirectory(); second.removeDirectory() }
        second.joinAsNonVoter(of: first)
        let leader = try await RunningNode.start(first.configuration)
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
        try await waitUntil("r2's cursors to be deleted", timeout: .seconds(120)) {
            leader.node.keyValue(Self.key("dns/r2")) == nil && leader.node.keyValue(Self.key("web/r2")) == nil
        }
        #expect(leader.node.eventCursor(role: "dns", consumer: "audit") == seq)
        #expect(leader.node.eventCursor(role: "dns", consumer: "r1") == seq)
        _ = await joiner.outcome()
        #expect(await leader.stop() == nil)
        await client.shutdown()
    }
}
