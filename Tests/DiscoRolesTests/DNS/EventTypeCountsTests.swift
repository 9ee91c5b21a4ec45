import Testing
@testable import DiscoRoles

/// The DNS role's events-by-type metric keeps a bounded number of labels.
@Suite struct EventTypeCountsTests {
    @Test func typesBeyondTheCapacityAreCountedAsOther() {
        var counts = EventTypeCounts(capacity: 4)
        for type in ["a", "b", "c", "d", "e", "a", "d"] { counts.count(type) }
        #expect(counts.byType == ["a": 2, "b": 1, "c": 1, "other": 3])
        #expect(counts.total == 7)
    }

    @Test func aFloodOfDistinctTypesKeepsTheLabelsBounded() {
        var counts = EventTypeCounts()
        for number in 0..<10_000 { counts.count("type-\(number)") }
        #expect(counts.byType.count == 64)
        #expect(counts.byType[EventTypeCounts.otherType] == 10_000 - 63)
        #expect(counts.total == 10_000)
    }
}
