import Testing
@testable import DiscoCore

// MARK: - Values unchanged at one revision for a period

@Suite struct UnchangedSinceTests {
    struct Value: Equatable {
        var name: String
        var revision: UInt64
    }

    static let period = Duration.seconds(3600)

    static func look(_ tracker: inout UnchangedSince<String>, _ values: [Value], at now: Duration) -> [Value] {
        tracker.look(values, now: now, period: period, key: \.name, revision: \.revision)
    }

    @Test func aValueIsDueOnceSeenAtTheSameRevisionForThePeriod() {
        var tracker = UnchangedSince<String>()
        let value = Value(name: "a", revision: 7)
        #expect(Self.look(&tracker, [value], at: .seconds(100)).isEmpty)
        #expect(tracker["a"] == .init(revision: 7, since: .seconds(100)))
        #expect(tracker.count == 1)
        #expect(Self.look(&tracker, [value], at: .seconds(100) + Self.period - .milliseconds(1)).isEmpty)
        #expect(tracker["a"]?.since == .seconds(100), "an unchanged value keeps its start")
        #expect(Self.look(&tracker, [value], at: .seconds(100) + Self.period) == [value])
        #expect(tracker.count == 0, "a due value is forgotten")
    }

    @Test func aValueNeverSeenWaitsAFullPeriodHoweverLate() {
        var tracker = UnchangedSince<String>()
        #expect(Self.look(&tracker, [Value(name: "a", revision: 7)], at: Self.period * 5).isEmpty)
    }

    @Test func anotherRevisionStartsThePeriodAgain() {
        var tracker = UnchangedSince<String>(["a": .init(revision: 7, since: .zero)])
        let changed = Value(name: "a", revision: 9)
        #expect(Self.look(&tracker, [changed], at: .seconds(1800)).isEmpty)
        #expect(tracker["a"] == .init(revision: 9, since: .seconds(1800)))
        #expect(Self.look(&tracker, [changed], at: .seconds(1800) + Self.period - .seconds(1)).isEmpty)
        #expect(Self.look(&tracker, [changed], at: .seconds(1800) + Self.period) == [changed])
    }

    @Test func aValueThatNoLongerQualifiesIsForgottenAndWaitsAfreshLater() {
        var tracker = UnchangedSince<String>()
        let value = Value(name: "a", revision: 7)
        _ = Self.look(&tracker, [value, Value(name: "b", revision: 1)], at: .zero)
        _ = Self.look(&tracker, [Value(name: "b", revision: 1)], at: .seconds(10))
        #expect(tracker["a"] == nil)
        #expect(Self.look(&tracker, [value], at: Self.period * 2).isEmpty)
        #expect(tracker["a"]?.since == Self.period * 2)
    }

    @Test func dueValuesComeInTheOrderGivenAndForgetStartsAllAfresh() {
        let values = (0..<5).map { Value(name: "v\($0)", revision: UInt64($0)) }
        var tracker = UnchangedSince<String>()
        _ = Self.look(&tracker, values.reversed(), at: .zero)
        #expect(Self.look(&tracker, values, at: Self.period) == values)

        _ = Self.look(&tracker, values, at: .zero)
        tracker.forget()
        #expect(tracker.count == 0)
        #expect(Self.look(&tracker, values, at: Self.period).isEmpty, "forgotten sightings wait a full period again")
        #expect(tracker.count == values.count)
    }
}
