import DiscoCore
import Testing
@testable import SWIMCore

// MARK: - Dissemination

@Suite struct GossipTests {
    @Test func retransmitLimitFollowsClusterSize() throws {
        #expect(try makeInstance().retransmitLimit == 4)                                  // n = 5
        #expect(try makeInstance(others: (0..<9).map { "m\($0)" }).retransmitLimit == 8)  // n = 10
        #expect(SWIM.Instance.ceilLog10(10_001) == 5)
    }

    @Test func itemIsPiggybackedExactlyLimitTimes() throws {
        var a = try makeInstance()
        _ = a.hear([.alive(id: node("f"), incarnation: 0, address: address("f"), metadata: SWIM.Metadata())], from: "c", now: .zero)
        let limit = a.retransmitLimit  // n = 6 now
        var carried = 0
        for sequence in 1...(limit + 3) {
            let effects = a.received(SWIM.Packet(message: .ping(sequence: SWIM.Sequence(sequence), source: node("b"), target: node("a"))),
                                     from: address("b"), now: ms(Int64(sequence)))
            if effects.sends.first?.packet.gossip.contains(where: { $0.subject == node("f") }) == true { carried += 1 }
        }
        #expect(carried == limit)
        #expect(a.pendingGossipCount == 0)
    }

    @Test func fewestTransmittedGoesFirstThenNewest() {
        var queue = SWIM.BroadcastQueue()
        let old = SWIM.GossipItem.left(id: node("x"), incarnation: 1)
        let fresh = SWIM.GossipItem.left(id: node("y"), incarnation: 1)
        queue.enqueue(old)
        _ = queue.take(budget: 1000, maxItems: 10, limit: 5)
        queue.enqueue(fresh)
        let one = queue.take(budget: SWIM.WireCodec.encodedSize(of: fresh), maxItems: 10, limit: 5)
        #expect(one.items == [fresh])
        // A newer item about the same member replaces the pending one.
        queue.enqueue(.left(id: node("x"), incarnation: 2))
        #expect(queue.pending(about: node("x")) == .left(id: node("x"), incarnation: 2))
        #expect(queue.count == 2)
    }

    @Test func packetsStayWithinTheSizeLimitAndArePacked() throws {
        var a = try makeInstance()
        let metadata = SWIM.Metadata(apiAddress: PeerAddress(host: "api.example.internal", port: 4001), roles: ["voter", "gateway"], epoch: 7, isVoter: true)
        let items = (0..<300).map { index in
            SWIM.GossipItem.alive(id: node("member-with-a-long-name-\(index)"), incarnation: UInt64(index),
                                  address: PeerAddress(host: "10.1.\(index / 256).\(index % 256)", port: 7946), metadata: metadata)
        }
        _ = a.hear(items, from: "c", now: .zero)
        var sizes: [Int] = []
        for sequence in 1...20 {
            let effects = a.received(SWIM.Packet(message: .ping(sequence: SWIM.Sequence(sequence), source: node("b"), target: node("a"))),
                                     from: address("b"), now: ms(Int64(sequence)))
            for (packet, _) in effects.sends { sizes.append(SWIM.WireCodec.encode(packet).count) }
        }
        #expect(sizes.allSatisfy { $0 <= 1400 })
        #expect(sizes.allSatisfy { $0 > 1400 - 100 })  // each item is < 100 bytes: packed full
    }

    @Test func gossipRoundsRunOnlyWhileSomethingIsPending() throws {
        var a = try makeInstance()
        let effects = a.hear([.alive(id: node("f"), incarnation: 0, address: address("f"), metadata: SWIM.Metadata())], from: "c", now: .zero)
        #expect(effects.deadline(.gossip) == ms(100))
        var now = ms(100)
        var rounds = 0
        while true {
            let round = a.timerFired(.gossip, now: now)
            rounds += 1
            #expect(round.sends.count <= 3)
            guard let next = round.deadline(.gossip) else { break }
            now = next
        }
        #expect(a.pendingGossipCount == 0)
        #expect(rounds <= 2)  // limit 4 transmissions, 3 per round
    }

    @Test func staleNewsIsCorrectedInTheReply() throws {
        var a = try makeInstance()
        _ = a.hear([.alive(id: node("b"), incarnation: 3, address: address("b"), metadata: SWIM.Metadata())], from: "b", now: .zero)
        let effects = a.hear([.suspect(id: node("b"), incarnation: 1, accuser: node("d"))], from: "d", now: ms(5))
        let correction = try #require(effects.sends.first { $0.to == address("d") })
        #expect(correction.packet.gossip.first == .alive(id: node("b"), incarnation: 3, address: address("b"), metadata: SWIM.Metadata()))
    }
}
