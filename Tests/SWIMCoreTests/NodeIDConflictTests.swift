import DiscoCore
@testable import SWIMCore
import Testing

// MARK: - Two live processes with one node ID

extension Array where Element == SWIM.Effect {
    /// Node ID conflicts reported.
    var conflicts: [SWIM.NodeIDConflict] {
        compactMap { if case .nodeIDConflict(let conflict) = $0 { conflict } else { nil } }
    }
}

@Suite struct NodeIDConflictTests {
    let elsewhere = PeerAddress(host: "host-a-elsewhere", port: 7946)

    func claim(_ incarnation: UInt64, at claimed: PeerAddress) -> SWIM.GossipItem {
        .alive(id: node("a"), incarnation: incarnation, address: claimed, metadata: SWIM.Metadata())
    }

    /// The other process answers every refutation with a higher incarnation: the third time
    /// within the window, the member reports the conflict, naming both addresses.
    @Test func duplicateThatKeepsOutbiddingIsReported() throws {
        var a = try makeInstance()
        var reported: [SWIM.NodeIDConflict] = []
        for round in 0..<3 {
            let effects = a.hear([claim(a.incarnation + 1, at: elsewhere)], from: "b", now: .seconds(Int64(round)))
            #expect(a.member(node("a"))?.address == address("a"), "the member keeps its own record")
            if round < 2 { #expect(effects.conflicts.isEmpty, "round \(round)") }
            reported += effects.conflicts
        }
        let conflict = try #require(reported.first)
        #expect(reported.count == 1)
        #expect(conflict.id == node("a"))
        #expect(conflict.localAddress == address("a"))
        #expect(conflict.otherAddress == elsewhere)
        #expect(conflict.evidence == .repeatedRefutations(count: 3, window: SWIM.Settings().nodeIDConflictWindow))
        // Counting starts afresh: three more outbids report again (the shell limits the log).
        var again = 0
        for round in 3..<6 {
            again += a.hear([claim(a.incarnation + 1, at: elsewhere)], from: "c", now: .seconds(Int64(round))).conflicts.count
        }
        #expect(again == 1)
    }

    /// A process with our ID pushing (or answering) full state and describing itself at another
    /// address is alive right now: one exchange is enough.
    @Test func pushPullFromAProcessWithOurIDIsReported() throws {
        var a = try makeInstance()
        let theirs = SWIM.PushPullState(sender: node("a"), isJoin: true, members: [
            SWIM.MemberState(id: node("a"), address: elsewhere, incarnation: 0, status: .alive, metadata: SWIM.Metadata()),
        ])
        let pushed = a.receivedPushPull(theirs, from: elsewhere, now: ms(10)).effects.conflicts
        #expect(pushed == [SWIM.NodeIDConflict(id: node("a"), localAddress: address("a"), otherAddress: elsewhere,
                                               otherIncarnation: 0, evidence: .pushPullFromSameID)])
        #expect(a.pushPullCompleted(theirs, from: elsewhere, now: ms(20)).conflicts.count == 1)
    }

    /// A member that reaches itself under another name (a seed list that includes it) hears its
    /// own state at its own address: no conflict.
    @Test func pushPullWithItselfIsNotAConflict() throws {
        var a = try makeInstance()
        let own = a.pushPullState(isJoin: false)
        #expect(a.pushPullCompleted(own, from: PeerAddress(host: "127.0.0.1", port: 7946), now: ms(10)).conflicts.isEmpty)
    }

    /// A member restarted at a new address (the old process is dead) hears the old address's
    /// claims for a while: the join's state, stale gossip at equal and lower incarnations,
    /// suspicions and verdicts about the old process. It outbids them once; no conflict.
    @Test func memberRestartedElsewhereIsNotReported() throws {
        let old = PeerAddress(host: "host-a-old", port: 7946)
        var a = try SWIM.Instance(id: node("a"), address: address("a"), random: DeterministicRandom(seed: 3))
        var effects = a.start(now: .zero)
        effects += a.join([address("b")], now: .zero)
        let seedState = SWIM.PushPullState(sender: node("b"), isJoin: false, members: [
            SWIM.MemberState(id: node("b"), address: address("b"), incarnation: 2, status: .alive, metadata: SWIM.Metadata()),
            SWIM.MemberState(id: node("a"), address: old, incarnation: 5, status: .alive, metadata: SWIM.Metadata()),
        ])
        effects += a.pushPullCompleted(seedState, from: address("b"), now: ms(50))
        #expect(a.incarnation == 6)
        var now = ms(100)
        for round in 0..<200 {
            let stale: [SWIM.GossipItem] = [
                claim(UInt64(round % 7), at: old), claim(6, at: old),
                .suspect(id: node("a"), incarnation: 5, accuser: node("c")), .dead(id: node("a"), incarnation: 5, accuser: node("b")),
            ]
            effects += a.hear(stale, from: round.isMultiple(of: 2) ? "b" : "c", now: now)
            now += ms(100)
        }
        #expect(effects.conflicts.isEmpty)
        #expect(a.member(node("a"))?.address == address("a"))
    }

    /// Outbids further apart than the window do not add up.
    @Test func outbidsSpreadOverMoreThanTheWindowAreNotReported() throws {
        var a = try makeInstance()
        let window = SWIM.Settings().nodeIDConflictWindow
        var reported = 0
        for round in 0..<6 {
            let now = window.scaled(by: 0.6 * Double(round))
            reported += a.hear([claim(a.incarnation + 1, at: elsewhere)], from: "b", now: now).conflicts.count
        }
        #expect(reported == 0)
    }

    /// Claims naming many addresses (anyone can send them to an unsealed member) keep a
    /// bounded record.
    @Test func trackingIsBoundedUnderClaimsFromManyAddresses() throws {
        var a = try makeInstance()
        for index in 0..<200 {
            let claimed = PeerAddress(host: "host-\(index)", port: 7946)
            #expect(a.hear([claim(a.incarnation + 1, at: claimed)], from: "b", now: ms(Int64(index))).conflicts.isEmpty)
        }
        #expect(a.conflicts.trackedAddresses <= SWIM.ConflictTracker.maxAddresses)
    }

    @Test func thresholdBelowTwoIsRefused() {
        var settings = SWIM.Settings()
        settings.nodeIDConflictRefutations = 1
        #expect(throws: SWIM.ConfigurationError.self) { try settings.validate() }
        settings.nodeIDConflictRefutations = 3
        settings.nodeIDConflictWindow = .zero
        #expect(throws: SWIM.ConfigurationError.self) { try settings.validate() }
    }
}
