import DiscoCore
import Testing
@testable import SWIMCore

// MARK: - Suspicion, refutation, Lifeguard timeouts

@Suite struct SuspicionTests {
    /// n = 5: min = 4·max(1, log10 5)·200 ms = 800 ms, max = 3·min = 2.4 s, k = min(3, n−2) = 3.
    @Test func suspicionRunsOutIntoDeadAndIsGossiped() throws {
        var a = try makeInstance()
        let heard = a.hear([.suspect(id: node("b"), incarnation: 0, accuser: node("c"))], from: "c", now: ms(1000))
        #expect(heard.events == [.suspect(try #require(a.member(node("b"))))])
        let deadline = try #require(heard.deadline(.suspicion(node("b"))))
        #expect(deadline == ms(1000) + .milliseconds(2400))
        // Too early: nothing happens, the timer is re-armed.
        let early = a.timerFired(.suspicion(node("b")), now: ms(2000))
        #expect(early.events.isEmpty)
        #expect(early.deadline(.suspicion(node("b"))) == deadline)
        let fired = a.timerFired(.suspicion(node("b")), now: deadline)
        #expect(fired.events.count == 1)
        #expect(a.member(node("b"))?.status == .dead)
        #expect(a.broadcasts.pending(about: node("b")) == .dead(id: node("b"), incarnation: 0, accuser: node("a")))
    }

    @Test func independentConfirmationsShrinkTheTimeoutLogarithmically() throws {
        var a = try makeInstance()
        let start = ms(1000)
        var deadlines: [Duration] = []
        for (index, accuser) in ["c", "d", "e", "a"].enumerated() {
            let effects = a.hear([.suspect(id: node("b"), incarnation: 0, accuser: node(accuser))], from: accuser == "a" ? "c" : accuser,
                                 now: start + ms(Int64(index)))
            deadlines.append(try #require(effects.deadline(.suspicion(node("b")))))
        }
        let offsets = deadlines.map { $0 - start }
        #expect(offsets[0] == .milliseconds(2400))
        #expect(offsets[1] == .milliseconds(1600))          // 2.4 − 1.6·log(2)/log(4)
        #expect(offsets[2] > .milliseconds(1131) && offsets[2] < .milliseconds(1133))  // 2.4 − 1.6·log(3)/log(4)
        #expect(offsets[3] == .milliseconds(800))          // three confirmations: the minimum
        #expect(a.suspicionConfirmations(of: node("b")) == 3)
        // A repeated accuser is not a new confirmation.
        let repeated = a.hear([.suspect(id: node("b"), incarnation: 0, accuser: node("c"))], from: "c", now: start + ms(10))
        #expect(repeated.deadline(.suspicion(node("b"))) == nil)
    }

    @Test func smallClusterNeedsFewerConfirmations() throws {
        var a = try makeInstance(others: ["b", "c"])  // n = 3: k = 1
        let first = a.hear([.suspect(id: node("b"), incarnation: 0, accuser: node("c"))], from: "c", now: .zero)
        #expect(first.deadline(.suspicion(node("b"))) == .milliseconds(2400))
        let second = a.hear([.suspect(id: node("b"), incarnation: 0, accuser: node("a"))], from: "c", now: ms(1))
        #expect(second.deadline(.suspicion(node("b"))) == .milliseconds(800))
    }

    @Test func aliveWithHigherIncarnationRefutesTheSuspicion() throws {
        var a = try makeInstance()
        _ = a.hear([.suspect(id: node("b"), incarnation: 0, accuser: node("c"))], from: "c", now: .zero)
        // Same incarnation: not a refutation.
        _ = a.hear([.alive(id: node("b"), incarnation: 0, address: address("b"), metadata: SWIM.Metadata())], from: "b", now: ms(10))
        #expect(a.member(node("b"))?.status == .suspect)
        let refuted = a.hear([.alive(id: node("b"), incarnation: 1, address: address("b"), metadata: SWIM.Metadata())], from: "b", now: ms(20))
        #expect(refuted.events.count == 1)
        #expect(a.member(node("b"))?.status == .alive)
        #expect(a.suspicionDeadline(of: node("b")) == nil)
        #expect(a.timerFired(.suspicion(node("b")), now: .seconds(5)).events.isEmpty)
    }

    @Test func suspectedMemberRefutesWithAHigherIncarnationAndTellsTheAccuser() throws {
        var a = try makeInstance()
        let effects = a.hear([.suspect(id: node("a"), incarnation: 0, accuser: node("c"))], from: "c", now: ms(5))
        #expect(a.incarnation == 1)
        #expect(a.localHealthMultiplier == 1)
        let reply = try #require(effects.sends.first { $0.to == address("c") })
        #expect(reply.packet.gossip.first == .alive(id: node("a"), incarnation: 1, address: address("a"), metadata: SWIM.Metadata()))
        // A stale accusation is answered with the current incarnation, without a new bump.
        let stale = a.hear([.dead(id: node("a"), incarnation: 0, accuser: node("d"))], from: "d", now: ms(6))
        #expect(a.incarnation == 1)
        #expect(stale.sends.first?.packet.gossip.first?.incarnation == 1)
    }

    @Test func someoneElsesDeadVerdictOnlyConfirmsUntilOurSuspicionAged() throws {
        var a = try makeInstance()
        let verdict = a.hear([.dead(id: node("b"), incarnation: 0, accuser: node("c"))], from: "c", now: .zero)
        #expect(a.member(node("b"))?.status == .suspect)
        #expect(verdict.events.map { if case .suspect = $0 { true } else { false } } == [true])
        // After the minimum suspicion time the next verdict is accepted.
        _ = a.hear([.dead(id: node("b"), incarnation: 0, accuser: node("d"))], from: "d", now: ms(900))
        #expect(a.member(node("b"))?.status == .dead)
    }

    @Test func buddySystemPutsTheSuspicionFirstInPacketsToTheSuspect() throws {
        var a = try makeInstance()
        _ = a.hear([.suspect(id: node("b"), incarnation: 0, accuser: node("c"))], from: "c", now: .zero)
        // Newer gossip about others is queued after it.
        _ = a.hear([.alive(id: node("f"), incarnation: 0, address: address("f"), metadata: SWIM.Metadata())], from: "c", now: ms(1))
        let reply = a.received(SWIM.Packet(message: .ping(sequence: 9, source: node("b"), target: node("a"))), from: address("b"), now: ms(2))
        let ack = try #require(reply.sends.first)
        #expect(ack.packet.message == .ack(sequence: 9, source: node("a")))
        #expect(ack.packet.gossip.first == .suspect(id: node("b"), incarnation: 0, accuser: node("a")))
        #expect(ack.packet.gossip.contains { $0.subject == node("f") })
    }

    @Test func ownFailedProbeSendsTheSuspectABuddyPacketAtOnce() throws {
        var a = try makeInstance()
        _ = a.start(now: .zero)
        let probeResult = a.probe(now: ms(200))
        let probe = try #require(probeResult)
        _ = a.timerFired(.directProbeTimeout(sequence: probe.sequence), now: ms(280))
        let end = a.timerFired(.protocolPeriod, now: ms(400))
        let buddy = try #require(end.sends.first { $0.to == address(probe.target.rawValue) && $0.packet.message == .gossip })
        #expect(buddy.packet.gossip.first == .suspect(id: probe.target, incarnation: 0, accuser: node("a")))
    }

    @Test func deadMemberReturningWithHigherIncarnationRejoins() throws {
        var a = try makeInstance()
        _ = a.hear([.suspect(id: node("b"), incarnation: 0, accuser: node("c"))], from: "c", now: .zero)
        _ = a.timerFired(.suspicion(node("b")), now: .seconds(3))
        #expect(a.member(node("b"))?.status == .dead)
        _ = a.hear([.alive(id: node("b"), incarnation: 0, address: address("b"), metadata: SWIM.Metadata())], from: "b", now: .seconds(4))
        #expect(a.member(node("b"))?.status == .dead)
        let back = a.hear([.alive(id: node("b"), incarnation: 1, address: address("b"), metadata: SWIM.Metadata())], from: "b", now: .seconds(5))
        #expect(back.events.map { if case .joined = $0 { true } else { false } } == [true])
        #expect(a.member(node("b"))?.status == .alive)
    }
}
