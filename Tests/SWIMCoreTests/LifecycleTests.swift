import DiscoCore
import Testing
@testable import SWIMCore

// MARK: - Join, push-pull merge, reaping, leave, metadata

@Suite struct LifecycleTests {
    func state(_ name: String, _ incarnation: UInt64, _ status: SWIM.MemberStatus) -> SWIM.MemberState {
        SWIM.MemberState(id: node(name), address: address(name), incarnation: incarnation, status: status, metadata: SWIM.Metadata())
    }

    @Test func joinPushPullsWithSeedsAndLearnsQuietly() throws {
        var fresh = try SWIM.Instance(id: node("n"), address: address("n"), random: DeterministicRandom(seed: 1))
        let joinEffects = fresh.join([address("s"), address("n")], now: .zero)
        #expect(joinEffects.pushPulls.map(\.to) == [address("s")])
        #expect(joinEffects.pushPulls.first?.state.isJoin == true)
        let remote = SWIM.PushPullState(sender: node("s"), isJoin: false,
                                        members: [state("s", 0, .alive), state("b", 2, .alive), state("c", 1, .dead)])
        let merged = fresh.pushPullCompleted(remote, from: address("s"), now: ms(5))
        #expect(merged.events.count == 2)  // s and b joined; dead c is not learned
        #expect(fresh.member(node("c")) == nil)
        #expect(fresh.broadcasts.pending(about: node("b")) == nil)   // quiet: the cluster knows b
        #expect(fresh.broadcasts.pending(about: node("n")) != nil)   // but announces itself
        #expect(fresh.liveMemberCount == 3)
    }

    @Test func seedSideAnswersWithItsStateAndGossipsTheJoiner() throws {
        var seed = try makeInstance("s", others: ["b"])
        let joiner = SWIM.PushPullState(sender: node("n"), isJoin: true, members: [state("n", 0, .alive)])
        let answer = seed.receivedPushPull(joiner, from: address("n"), now: ms(1))
        #expect(Set(answer.reply.members.map(\.id)) == [node("s"), node("b")])
        #expect(answer.effects.events.count == 1)
        #expect(seed.broadcasts.pending(about: node("n")) != nil)
    }

    @Test func mergeRulesFollowIncarnationAndStatusPrecedence() throws {
        var a = try makeInstance(others: ["b", "c", "d", "e", "f"])
        _ = a.hear([.suspect(id: node("c"), incarnation: 0, accuser: node("b"))], from: "b", now: .zero)
        _ = a.hear([.suspect(id: node("d"), incarnation: 0, accuser: node("b"))], from: "b", now: .zero)
        _ = a.timerFired(.suspicion(node("d")), now: .seconds(5))
        #expect(a.member(node("d"))?.status == .dead)
        let remote = SWIM.PushPullState(sender: node("b"), isJoin: false, members: [
            state("c", 0, .alive),   // same incarnation alive does not clear a suspicion
            state("d", 1, .alive),   // higher incarnation brings a dead member back
            state("e", 0, .dead),    // a remote verdict becomes a local suspicion
            state("f", 0, .left),    // left is taken as is
            state("a", 0, .dead),    // about us: refute
            state("z", 4, .dead),    // unknown and dead: ignored
        ])
        _ = a.pushPullCompleted(remote, from: address("b"), now: .seconds(6))
        #expect(a.member(node("c"))?.status == .suspect)
        #expect(a.member(node("d"))?.status == .alive)
        #expect(a.member(node("d"))?.incarnation == 1)
        #expect(a.member(node("e"))?.status == .suspect)
        #expect(a.member(node("f"))?.status == .left)
        #expect(a.incarnation == 1)
        #expect(a.member(node("z")) == nil)
    }

    @Test func tombstonesAreReapedAfterTheirTimeout() throws {
        var settings = SWIM.Settings()
        settings.tombstoneTimeout = .seconds(60)
        var a = try makeInstance(settings: settings)
        _ = a.hear([.left(id: node("b"), incarnation: 1)], from: "b", now: .seconds(10))
        #expect(a.member(node("b"))?.status == .left)
        let early = a.timerFired(.reap, now: .seconds(69))
        #expect(a.member(node("b")) != nil)
        #expect(early.deadline(.reap) == .seconds(69) + settings.reapInterval)
        _ = a.timerFired(.reap, now: .seconds(70))
        #expect(a.member(node("b")) == nil)
        #expect(a.members.count == 4)
        // Forgotten members can join again from scratch.
        let again = a.hear([.alive(id: node("b"), incarnation: 0, address: address("b"), metadata: SWIM.Metadata())], from: "c", now: .seconds(71))
        #expect(again.events.count == 1)
    }

    @Test func reconnectContactsSeedsThatAreNotMembersAndDeadMembers() throws {
        var a = try makeInstance()
        _ = a.join([address("seed")], now: .zero)
        _ = a.hear([.left(id: node("c"), incarnation: 1)], from: "b", now: .zero)
        var contacted: Set<PeerAddress> = []
        var now = Duration.zero
        for _ in 0..<40 {
            now += .seconds(10)
            for (to, _) in a.timerFired(.reconnect, now: now).pushPulls { contacted.insert(to) }
        }
        #expect(contacted == [address("seed")])  // the left member is not re-contacted
        _ = a.hear([.suspect(id: node("d"), incarnation: 0, accuser: node("b"))], from: "b", now: now)
        _ = a.timerFired(.suspicion(node("d")), now: now + .seconds(5))
        for _ in 0..<40 {
            now += .seconds(10)
            for (to, _) in a.timerFired(.reconnect, now: now).pushPulls { contacted.insert(to) }
        }
        #expect(contacted == [address("seed"), address("d")])
    }

    @Test func leaveAnnouncesLeftStopsProbingAndCompletes() throws {
        var a = try makeInstance()
        _ = a.start(now: .zero)
        let effects = a.leave(now: ms(50))
        #expect(a.incarnation == 1)
        #expect(a.broadcasts.pending(about: node("a")) == .left(id: node("a"), incarnation: 1))
        #expect(effects.deadline(.leave) == ms(50) + .seconds(2))
        #expect(a.timerFired(.protocolPeriod, now: ms(200)).sends.isEmpty)
        var completed = false
        var now = ms(150)
        for _ in 0..<5 where !completed {
            let round = a.timerFired(.gossip, now: now)
            #expect(round.sends.allSatisfy { $0.packet.gossip.first == .left(id: node("a"), incarnation: 1) })
            completed = round.contains(.leaveCompleted)
            now += ms(100)
        }
        #expect(completed)
        // Accusations are not refuted any more.
        _ = a.hear([.dead(id: node("a"), incarnation: 1, accuser: node("b"))], from: "b", now: now)
        #expect(a.incarnation == 1)
    }

    @Test func leaveTimerCompletesEvenWithoutDissemination() throws {
        var a = try makeInstance()
        _ = a.leave(now: .zero)
        #expect(a.timerFired(.leave, now: .seconds(2)) == [.leaveCompleted])
        #expect(a.timerFired(.leave, now: .seconds(3)).isEmpty)
    }

    @Test func othersSeeLeftAsLeftNotDead() throws {
        var b = try makeInstance("b", others: ["a", "c"])
        let effects = b.hear([.left(id: node("a"), incarnation: 1)], from: "a", now: .zero)
        #expect(effects.events.map { if case .left = $0 { true } else { false } } == [true])
        #expect(b.member(node("a"))?.status == .left)
        _ = b.hear([.dead(id: node("a"), incarnation: 1, accuser: node("c"))], from: "c", now: ms(1))
        #expect(b.member(node("a"))?.status == .left)
    }

    @Test func metadataChangeBumpsIncarnationAndReachesOthers() throws {
        var a = try makeInstance()
        let metadata = SWIM.Metadata(apiAddress: PeerAddress(host: "10.0.0.1", port: 4001, scheme: .https), roles: ["leader-eligible"], epoch: 3, isVoter: true)
        _ = try a.updateMetadata(metadata, now: .zero)
        #expect(a.incarnation == 1)
        let item = try #require(a.broadcasts.pending(about: node("a")))
        var b = try makeInstance("b", others: ["a", "c"])
        let effects = b.hear([item], from: "a", now: ms(1))
        #expect(effects.events == [.metadataUpdated(try #require(b.member(node("a"))))])
        #expect(b.member(node("a"))?.metadata == metadata)
        #expect(try a.updateMetadata(metadata, now: ms(2)).isEmpty)  // unchanged: nothing to say
    }

    @Test func invalidMetadataAndSettingsAreRejectedWithReasons() throws {
        var a = try makeInstance()
        let tooMany = SWIM.Metadata(roles: (0..<17).map { "r\($0)" })
        #expect(throws: SWIM.ConfigurationError.self) { try a.updateMetadata(tooMany, now: .zero) }
        var settings = SWIM.Settings()
        settings.probeTimeout = .seconds(1)
        do {
            _ = try makeInstance(settings: settings)
            Issue.record("expected an error")
        } catch let error as SWIM.ConfigurationError {
            #expect(error.field == "probeTimeout")
            #expect(error.description.contains("shorter than probeInterval"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
