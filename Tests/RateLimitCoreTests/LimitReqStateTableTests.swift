import DiscoCore
import DiscoTestKit
import Testing
@testable import RateLimitCore

/// The state table against a plain model (an array in LRU order) under seeded random inserts,
/// lookups, touches and removals, with keys of every length class, many colliding on purpose.
@Suite struct LimitReqStateTableTests {
    /// Keys from a small alphabet so lookups hit existing states often; lengths 1–40, some > 16.
    static func randomKey(_ random: inout DeterministicRandom) -> RateLimitKey {
        let lengths = [1, 4, 4, 16, 16, 17, 40]
        let length = lengths[Int(random.next() % UInt64(lengths.count))]
        return RateLimitKey((0..<length).map { _ in UInt8(random.next() % 3) })
    }

    /// 20 seeds of 3,000 operations, off the cooperative pool (CPU-bound).
    @Test func behavesLikeAnLRUListOfKeys() async {
        let failures = await CPUBoundWork.run { (0..<20 as Range<UInt64>).compactMap(Self.lruModelFailure(seed:)) }
        #expect(failures.isEmpty, "\(failures.prefix(3).joined(separator: "\n"))")
    }

    /// The first difference from the model for one seed, or `nil`.
    static func lruModelFailure(seed: UInt64) -> String? {
        var random = DeterministicRandom(seed: seed)
        var table = LimitReqStateTable(budgetBytes: 64 * 128)
        var model: [RateLimitKey] = []  // oldest first
        for step in 0..<3000 {
            let key = Self.randomKey(&random)
            switch random.next() % 4 {
            case 0, 1:  // insert when absent and room, else touch
                if let record = table.find(key) {
                    table.touch(record)
                    model.removeAll { $0 == key }
                    model.append(key)
                } else if table.hasRoom(keyLength: key.bytes.count) {
                    let record = table.insert(key)
                    table[record].excess = Int64(step)
                    model.append(key)
                }
            case 2:  // remove the oldest
                if table.oldest != LimitReqStateTable.none {
                    if table.key(of: table.oldest) != model.first { return "seed \(seed) step \(step): oldest \(table.key(of: table.oldest)), model \(model.first?.description ?? "none")" }
                    table.remove(table.oldest)
                    model.removeFirst()
                }
            default:  // remove a random present key
                if let record = table.find(key) {
                    table.remove(record)
                    model.removeAll { $0 == key }
                }
            }
            let modelBytes = model.reduce(0) { $0 + LimitReqZoneBudget.stateBytes(keyLength: $1.bytes.count) }
            if table.count != model.count || table.usedBytes != modelBytes || table.usedBytes > table.budgetBytes {
                return "seed \(seed) step \(step): \(table.count) states / \(table.usedBytes) bytes, model \(model.count) / \(modelBytes), budget \(table.budgetBytes)"
            }
        }
        var order: [RateLimitKey] = []
        var record = table.oldest
        while record != LimitReqStateTable.none {
            order.append(table.key(of: record))
            record = table[record].newer
        }
        if order != model { return "seed \(seed): LRU order differs from the model's" }
        if let missing = model.first(where: { table.find($0) == nil }) { return "seed \(seed): \(missing) not found" }
        return nil
    }

    @Test func growsItsIndexAndFindsEveryKeyAfterManyRemovals() {
        var table = LimitReqStateTable(budgetBytes: Int.max)
        let keys = (0..<5000).map { (number: Int) -> RateLimitKey in
            RateLimitKey([1, 2, UInt8(truncatingIfNeeded: number >> 8), UInt8(truncatingIfNeeded: number)])
        }
        for key in keys { _ = table.insert(key) }
        for key in keys.enumerated() where key.offset % 3 == 0 {
            if let record = table.find(key.element) { table.remove(record) }
        }
        for (offset, key) in keys.enumerated() {
            #expect((table.find(key) != nil) == (offset % 3 != 0))
        }
        #expect(table.count == 5000 - 1667)
    }

    @Test func keysOfSixteenAndSeventeenBytesDiffer() throws {
        var table = LimitReqStateTable(budgetBytes: Int.max)
        let sixteen = RateLimitKey(Array(repeating: 0, count: 16))
        let seventeen = RateLimitKey(Array(repeating: 0, count: 17))
        let zeroPrefix = RateLimitKey(Array(repeating: 0, count: 15))
        _ = table.insert(sixteen)
        #expect(table.find(seventeen) == nil)
        #expect(table.find(zeroPrefix) == nil)
        _ = table.insert(seventeen)
        #expect(table.key(of: try #require(table.find(seventeen))) == seventeen)
        #expect(table.key(of: try #require(table.find(sixteen))) == sixteen)
    }
}
