import DiscoCore
import NodeRuntime
import Testing

/// ``EventPageBudget``: what one page of `GET /events` may hold.
@Suite struct EventPageBudgetTests {
    static func event(_ seq: UInt64, bytes: Int) -> ClusterEvent {
        ClusterEvent(seq: seq, index: seq + 10, timeMillis: 1_700_000_000_000, data: Array(("\"" + String(repeating: "x", count: bytes - 2) + "\"").utf8))
    }

    @Test func theEncodedSizeIsWhatEncodingWrites() {
        let events = [
            ClusterEvent(seq: 0, index: 0, timeMillis: 0, data: Array("1".utf8)),
            ClusterEvent(seq: 9, index: 10, timeMillis: -1, data: Array(#"{"k": [1, "x"]}"#.utf8)),
            ClusterEvent(seq: UInt64.max, index: UInt64.max, timeMillis: Int64.min, data: Array("[]".utf8)),
            ClusterEvent(seq: 1, index: 1, timeMillis: Int64.max, data: [0xEF, 0xBB, 0xBF] + Array("true".utf8)),
        ]
        for event in events {
            #expect(event.encodedByteCount == event.jsonBytes().count, "\(event)")
        }
    }

    /// Pages hold whole events while they fit; the first comes whatever its size, so a reader
    /// always moves on; a page that fits is left as it is.
    @Test func aPageEndsBeforeTheFirstEventThatDoesNotFitButNeverEmpty() {
        let events = (1...5).map { Self.event($0, bytes: 100) }
        let size = events[0].encodedByteCount
        let page = EventPage(events: events, firstSeq: 1, lastSeq: 9)
        // Two events and the comma between them fit exactly; one byte less leaves one.
        let two = page.bounded(by: EventPageBudget(maxBytes: 2 * size + 1))
        #expect(two.events.map(\.seq) == [1, 2] && two.firstSeq == 1 && two.lastSeq == 9)
        #expect(page.bounded(by: EventPageBudget(maxBytes: 2 * size)).events.map(\.seq) == [1])
        // An event larger than the whole budget still comes, alone.
        #expect(page.bounded(by: EventPageBudget(maxBytes: 10)).events.map(\.seq) == [1])
        #expect(page.bounded(by: EventPageBudget(maxBytes: 0)).events.map(\.seq) == [1])
        #expect(page.bounded(by: EventPageBudget()) == page)
        #expect(EventPage(events: [], firstSeq: 1, lastSeq: 0).bounded(by: EventPageBudget(maxBytes: 0)).events.isEmpty)

        // A large event after a small one waits for the next page.
        let mixed = EventPage(events: [Self.event(1, bytes: 100), Self.event(2, bytes: 1000), Self.event(3, bytes: 10)], firstSeq: 1, lastSeq: 3)
        #expect(mixed.bounded(by: EventPageBudget(maxBytes: 500)).events.map(\.seq) == [1])

        var budget = EventPageBudget(maxBytes: 2 * size + 1)
        #expect(budget.take(events[0]) && budget.take(events[1]) && !budget.take(events[2]))
        #expect(budget.count == 2 && budget.usedBytes == 2 * size + 1)
        #expect(EventPageBudget.standardBytes == 4 << 20)
    }
}
