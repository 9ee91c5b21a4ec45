import DiscoCore
import Testing
@testable import SWIMCore

// MARK: - Member table and probe order

@Suite struct StorageTests {
    func member(_ index: Int, _ status: SWIM.MemberStatus = .alive) -> SWIM.Member {
        SWIM.Member(id: node("m\(index)"), address: PeerAddress(host: "h\(index)", port: 1), incarnation: 0,
                    status: status, metadata: SWIM.Metadata(), statusChangedAt: .zero)
    }

    @Test func tableFindsUpdatesRemovesAndCompacts() {
        var table = SWIM.MemberTable((0..<200).map { member($0) })
        let shared = table
        table.insert(member(500))
        var changed = member(7)
        changed.incarnation = 3
        table.update(changed)
        #expect(table[node("m7")]?.incarnation == 3)
        #expect(shared[node("m7")]?.incarnation == 0)   // copies are independent
        #expect(shared[node("m500")] == nil)
        for index in 0..<150 { table.remove(node("m\(index)")) }
        #expect(table.count == 51)
        #expect(table.layoutGeneration == 1)             // compacted once most slots were vacant
        #expect(table.slotCount < 200)
        #expect(table[node("m3")] == nil)
        #expect(table[node("m199")] != nil)
        #expect(table[node("m500")] != nil)
        #expect(Set(table.all.map(\.id)).count == 51)
    }

    @Test(arguments: [7, 5000])
    func everySlotIsVisitedOncePerPassIncludingInsertions(slots: Int) {
        var random = DeterministicRandom(seed: 11)
        var order = SWIM.ProbeOrder()
        order.reshuffle(slotCount: slots, random: &random)
        var seen: [Int] = []
        for _ in 0..<(slots / 2) { if let slot = order.next() { seen.append(slot) } }
        order.insert(slot: slots, random: &random)
        while let slot = order.next() { seen.append(slot) }
        #expect(seen.count == slots + 1)
        #expect(Set(seen) == Set(0...slots))
        // The next pass is a different order.
        order.reshuffle(slotCount: slots, random: &random)
        var second: [Int] = []
        while let slot = order.next() { second.append(slot) }
        #expect(Set(second) == Set(0..<slots))
        #expect(second != Array(seen.prefix(slots)))
    }
}
