import DiscoCore
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

    @Test(arguments: 0..<20 as Range<UInt64>)
    func behavesLikeAnLRUListOfKeys(seed: UInt64) {
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
                    #expect(table.key(of: table.oldest) == model.first)
                    table.remove(table.oldest)
                    model.removeFirst()
                }
            default:  // remove a random present key
                if let record = table.find(key) {
                    table.remove(record)
                    model.removeAll { $0 == key }
                }
            }
            #expect(table.count == model.count)
            #expect(table.usedBytes == model.reduce(0) { $0 + LimitReqZoneBudget.stateBytes(keyLength: $1.bytes.count) })
            #expect(table.usedBytes <= table.budgetBytes)
        }
        var order: [RateLimitKey] = []
        var record = table.oldest
        while record != LimitReqStateTable.none {
            order.append(table.key(of: record))
            record = table[record].newer
        }
        #expect(order == model)
        for key in model { #expect(table.find(key) != nil) }
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
