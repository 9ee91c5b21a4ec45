import DiscoCore
import DiscoDNS
import Testing
@testable import DiscoSRV

@Suite struct SRVOrderingTests {
    static func record(_ target: String, priority: UInt16, weight: UInt16, port: UInt16 = 4001) throws -> SRVData {
        SRVData(priority: priority, weight: weight, port: port, target: try DNSName(parsing: target))
    }

    @Test func lowerPriorityAlwaysComesFirst() throws {
        let records = [
            try Self.record("c", priority: 20, weight: 100), try Self.record("a", priority: 10, weight: 1),
            try Self.record("b", priority: 10, weight: 50), try Self.record("d", priority: 30, weight: 0),
        ]
        var random = DeterministicRandom(seed: 1)
        for _ in 0..<10_000 {
            let order = SRVOrdering.order(records, using: &random)
            #expect(order.count == 4)
            #expect(order.map(\.priority) == [10, 10, 20, 30])
        }
    }

    @Test func firstPlaceWithinAPriorityFollowsTheWeights() throws {
        let records = [
            try Self.record("w10", priority: 0, weight: 10), try Self.record("w30", priority: 0, weight: 30),
            try Self.record("w60", priority: 0, weight: 60),
        ]
        var random = DeterministicRandom(seed: 42)
        var firsts: [String: Int] = [:]
        let draws = 10_000
        for _ in 0..<draws {
            let first = SRVOrdering.order(records, using: &random)[0].target.description
            firsts[first, default: 0] += 1
        }
        // Expected shares 10%, 30%, 60%; the tolerance is far above the sampling error (~0.5%).
        for (name, share) in [("w10", 0.10), ("w30", 0.30), ("w60", 0.60)] {
            let observed = Double(firsts[name, default: 0]) / Double(draws)
            #expect(abs(observed - share) < 0.02, "\(name): \(observed) vs \(share)")
        }
    }

    @Test func secondPlaceIsDrawnFromWhatIsLeft() throws {
        // After w60 goes first, w10 and w30 split second place 1:3.
        let records = [
            try Self.record("w10", priority: 0, weight: 10), try Self.record("w30", priority: 0, weight: 30),
            try Self.record("w60", priority: 0, weight: 60),
        ]
        var random = DeterministicRandom(seed: 7)
        var seconds: [String: Int] = [:]
        var total = 0
        for _ in 0..<10_000 {
            let order = SRVOrdering.order(records, using: &random)
            guard order[0].target.description == "w60" else { continue }
            seconds[order[1].target.description, default: 0] += 1
            total += 1
        }
        let share = Double(seconds["w30", default: 0]) / Double(total)
        #expect(abs(share - 0.75) < 0.03, "w30 second after w60: \(share)")
    }

    @Test func weightZeroHasASmallChanceAheadOfPositiveWeights() throws {
        // S = 4 positive weight: the weight-0 record goes first with probability 1/(S+1) = 20%.
        let records = [
            try Self.record("zero", priority: 0, weight: 0), try Self.record("one", priority: 0, weight: 1),
            try Self.record("three", priority: 0, weight: 3),
        ]
        var random = DeterministicRandom(seed: 3)
        var firsts: [String: Int] = [:]
        for _ in 0..<10_000 {
            firsts[SRVOrdering.order(records, using: &random)[0].target.description, default: 0] += 1
        }
        for (name, share) in [("zero", 0.2), ("one", 0.2), ("three", 0.6)] {
            let observed = Double(firsts[name, default: 0]) / 10_000
            #expect(abs(observed - share) < 0.02, "\(name): \(observed) vs \(share)")
        }
    }

    @Test func allZeroWeightsAreShuffledUniformly() throws {
        let records = try (0..<4).map { try Self.record("z\($0)", priority: 5, weight: 0) }
        var random = DeterministicRandom(seed: 9)
        var firsts: [String: Int] = [:]
        for _ in 0..<10_000 {
            firsts[SRVOrdering.order(records, using: &random)[0].target.description, default: 0] += 1
        }
        for index in 0..<4 {
            let observed = Double(firsts["z\(index)", default: 0]) / 10_000
            #expect(abs(observed - 0.25) < 0.02, "z\(index): \(observed)")
        }
    }

    @Test func sameSeedSameOrder() throws {
        let records = try (0..<6).map { try Self.record("t\($0)", priority: UInt16($0 % 2), weight: UInt16($0 * 7)) }
        var first = DeterministicRandom(seed: 11)
        var second = DeterministicRandom(seed: 11)
        for _ in 0..<100 {
            #expect(SRVOrdering.order(records, using: &first) == SRVOrdering.order(records.reversed(), using: &second))
        }
    }
}
