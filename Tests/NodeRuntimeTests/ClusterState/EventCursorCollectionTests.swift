import DiscoCore
@testable import NodeRuntime
import Testing

/// The rule by which the leader deletes the consumer cursors no consumer needs, with the time
/// given explicitly.
@Suite struct EventCursorCollectionTests {
    static func cursor(_ name: String, _ value: String, revision: UInt64 = 7) -> KVEntry {
        KVEntry(key: KVKey(Node.eventCursorNamespace, name), value: Array(value.utf8), created: 3, revision: revision)
    }

    static let hour = Duration.seconds(3600)

    /// A cursor behind the oldest retained event is unneeded: its consumer would continue at the
    /// oldest retained event, where one without a cursor starts. One at the window's edge or
    /// inside it is needed, and whatever is not a position in this namespace is never unneeded.
    @Test func cursorsBehindTheWindowAreUnneededAndOthersAreNot() {
        let entries = [
            Self.cursor("dns/gone", "3"), Self.cursor("dns/edge", "9"), Self.cursor("dns/live", "15"),
            Self.cursor("dns/odd", "soon"), Self.cursor("dns/zero", "0"), Self.cursor("noslash", "1"),
            KVEntry(key: KVKey("other", "dns/gone"), value: Array("3".utf8), created: 1, revision: 1),
        ]
        let unneeded = entries.filter { EventCursorCollection.isUnneeded($0, firstSeq: 10, removedConsumers: []) }
        #expect(unneeded.map(\.key.name) == ["dns/gone"])
        // The edge is exactly where a consumer without a cursor starts: it is not behind.
        #expect(EventPage(events: [], firstSeq: 10, lastSeq: 20).missedEvents(since: 9) == false)
        #expect(!entries.contains { EventCursorCollection.isUnneeded($0, firstSeq: 1, removedConsumers: []) })
        #expect(!entries.contains { EventCursorCollection.isUnneeded($0, firstSeq: 0, removedConsumers: []) })
    }

    /// The cursors of a removed node's default consumer are unneeded, for every role, wherever
    /// they are; a consumer whose name only contains the node's ID is not.
    @Test func theDefaultConsumerOfARemovedNodeIsUnneededForEveryRole() throws {
        let long = try #require(NodeID(String(repeating: "x", count: 100) + "/pod"))
        let removed = Set([Node.defaultConsumer(for: "n4"), Node.defaultConsumer(for: long)])
        let entries = [
            Self.cursor("dns/n4", "50"), Self.cursor("web/n4", "51"), Self.cursor("dns/n44", "50"),
            Self.cursor("dns/audit-n4", "50"), Self.cursor("dns/" + Node.defaultConsumer(for: long), "50"),
        ]
        let unneeded = entries.filter { EventCursorCollection.isUnneeded($0, firstSeq: 10, removedConsumers: removed) }
        #expect(unneeded.map(\.key.name) == ["dns/n4", "web/n4", "dns/" + Node.defaultConsumer(for: long)])
    }

    /// An unneeded cursor goes only once it has been seen unneeded at the same revision for the
    /// idle period; a needed one is never even waited on.
    @Test func anUnneededCursorGoesOnceUnchangedForTheIdlePeriod() {
        let entries = [Self.cursor("dns/gone", "3"), Self.cursor("dns/live", "15")]
        func look(_ sightings: [KVKey: EventCursorCollection.Sighting], at now: Duration) -> EventCursorCollection.Decision {
            EventCursorCollection.decide(entries, firstSeq: 10, removedConsumers: [], sightings: sightings, now: now, idle: Self.hour)
        }
        let first = look([:], at: .seconds(100))
        #expect(first.deletions.isEmpty)
        #expect(first.sightings == [entries[0].key: .init(revision: 7, since: .seconds(100))])
        let before = look(first.sightings, at: .seconds(100) + Self.hour - .milliseconds(1))
        #expect(before.deletions.isEmpty)
        #expect(before.sightings == first.sightings)
        let after = look(before.sightings, at: .seconds(100) + Self.hour)
        #expect(after.deletions == [entries[0]])
        #expect(after.sightings.isEmpty)
        // Never seen before: however late, it waits a full idle period first.
        #expect(look([:], at: Self.hour * 5).deletions.isEmpty)
    }

    /// A new revision (an acknowledgement, even one that leaves the cursor behind the window)
    /// starts the idle period again; a cursor no longer unneeded is forgotten, and waits afresh
    /// should it become unneeded again.
    @Test func aChangeStartsTheIdlePeriodAgain() {
        let seen = [KVKey(Node.eventCursorNamespace, "dns/gone"): EventCursorCollection.Sighting(revision: 7, since: .zero)]
        let acknowledged = [Self.cursor("dns/gone", "4", revision: 9)]
        let moved = EventCursorCollection.decide(acknowledged, firstSeq: 10, removedConsumers: [], sightings: seen,
                                                 now: .seconds(1800), idle: Self.hour)
        #expect(moved.deletions.isEmpty)
        #expect(moved.sightings[acknowledged[0].key] == .init(revision: 9, since: .seconds(1800)))
        #expect(EventCursorCollection.decide(acknowledged, firstSeq: 10, removedConsumers: [], sightings: moved.sightings,
                                             now: .seconds(1800) + Self.hour - .seconds(1), idle: Self.hour).deletions.isEmpty)
        #expect(EventCursorCollection.decide(acknowledged, firstSeq: 10, removedConsumers: [], sightings: moved.sightings,
                                             now: .seconds(1800) + Self.hour, idle: Self.hour).deletions == acknowledged)

        // A removed node's cursor, in the window, is needed again once the node is back.
        let member = [Self.cursor("dns/n4", "50")]
        let removed = EventCursorCollection.decide(member, firstSeq: 10, removedConsumers: ["n4"], sightings: [:],
                                                   now: .zero, idle: Self.hour)
        #expect(removed.sightings.count == 1)
        let back = EventCursorCollection.decide(member, firstSeq: 10, removedConsumers: [], sightings: removed.sightings,
                                                now: Self.hour * 2, idle: Self.hour)
        #expect(back.deletions.isEmpty && back.sightings.isEmpty)
        let again = EventCursorCollection.decide(member, firstSeq: 10, removedConsumers: ["n4"], sightings: back.sightings,
                                                 now: Self.hour * 2, idle: Self.hour)
        #expect(again.deletions.isEmpty)
        #expect(again.sightings[member[0].key]?.since == Self.hour * 2)
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
