import DiscoCore
import NodeRuntime
import Testing

/// The rule by which the leader deletes consumer cursors no consumer needs.
@Suite struct EventCursorCollectionTests {
    static func cursor(_ name: String, _ value: String, revision: UInt64 = 7) -> KVEntry {
        KVEntry(key: KVKey(Node.eventCursorNamespace, name), value: Array(value.utf8), created: 3, revision: revision)
    }

    /// A cursor behind the oldest retained event goes: its consumer would continue at the oldest
    /// retained event, where one without a cursor starts. One at the window's edge or inside it
    /// stays, and so does whatever is not a position in this namespace.
    @Test func cursorsBehindTheWindowGoAndOthersStay() {
        let entries = [
            Self.cursor("dns/gone", "3"), Self.cursor("dns/edge", "9"), Self.cursor("dns/live", "15"),
            Self.cursor("dns/odd", "soon"), Self.cursor("dns/zero", "0"), Self.cursor("noslash", "1"),
            KVEntry(key: KVKey("other", "dns/gone"), value: Array("3".utf8), created: 1, revision: 1),
        ]
        let deleted = EventCursorCollection.deletions(entries, firstSeq: 10).map(\.key.name)
        #expect(deleted == ["dns/gone"])
        // The edge is exactly where a consumer without a cursor starts: it is not behind.
        #expect(EventPage(events: [], firstSeq: 10, lastSeq: 20).missedEvents(since: 9) == false)
        #expect(EventCursorCollection.deletions(entries, firstSeq: 1).isEmpty)
        #expect(EventCursorCollection.deletions(entries, firstSeq: 0).isEmpty)
    }

    /// The cursors of a removed node's default consumer go, for every role, wherever they are;
    /// a consumer whose name only contains the node's ID stays.
    @Test func theDefaultConsumerOfARemovedNodeLosesItsCursorsForEveryRole() throws {
        let long = try #require(NodeID(String(repeating: "x", count: 100) + "/pod"))
        let removed = Set([Node.defaultConsumer(for: "n4"), Node.defaultConsumer(for: long)])
        let entries = [
            Self.cursor("dns/n4", "50"), Self.cursor("web/n4", "51"), Self.cursor("dns/n44", "50"),
            Self.cursor("dns/audit-n4", "50"), Self.cursor("dns/" + Node.defaultConsumer(for: long), "50"),
        ]
        let deleted = EventCursorCollection.deletions(entries, firstSeq: 10, removedConsumers: removed).map(\.key.name)
        #expect(deleted == ["dns/n4", "web/n4", "dns/" + Node.defaultConsumer(for: long)])
    }

    /// Each deletion is conditioned on the revision read, in transactions within the bounds.
    @Test func deletionsAreCompareAndSetTransactionsWithinTheBounds() {
        let entries = (0..<130).map { Self.cursor("dns/c\($0)", "1", revision: UInt64(100 + $0)) }
        let transactions = EventCursorCollection.transactions(entries)
        #expect(transactions.map(\.operations.count) == [64, 64, 2])
        #expect(transactions.allSatisfy { $0.conditions.count == $0.operations.count })
        #expect(transactions[2].conditions == [KVCondition(entries[128].key, revision: 228), KVCondition(entries[129].key, revision: 229)])
        #expect(transactions[2].operations == [.delete(entries[128].key), .delete(entries[129].key)])
        #expect(EventCursorCollection.transactions([]).isEmpty)
    }
}
