import DiscoCore
import Testing
@testable import LeaseCore

@Suite struct LeaseHolderTests {
    let group: LeaseGroup = "web"
    /// ttl 800 ms, deadline 650 ms, period 150 ms (valid: 650 ms < 784.158 ms): a suspended
    /// holder whose last applied renewal was sent at 10 ms becomes cold at 10 + 784.158 + 650 ms.
    let settings = LeaseSettings.forTests
    let coldPoint: Duration = .milliseconds(10 + 650) + .nanoseconds(784_158_415)

    func ms(_ value: Int) -> Duration { .milliseconds(value) }

    func state(holder: NodeID?, token: UInt64, claimedBy: UInt64? = nil, lastChange: UInt64 = 1, moveTo: NodeID? = nil) -> LeaseState {
        var state = LeaseState()
        state.holder = holder
        state.token = token
        state.claimedBy = claimedBy
        state.lastChange = lastChange
        state.moveTo = moveTo
        return state
    }

    func holder(incarnation: UInt64 = 7) -> LeaseHolder {
        LeaseHolder(settings: settings, group: group, me: "a", incarnation: incarnation, now: ms(0))
    }

    /// The release a process proposes for its own claim (or an unclaimed grant).
    func release(_ token: UInt64, incarnation: UInt64 = 7) -> LeaseHolder.Effect {
        .proposeRelease(.release(group, holder: "a", token: token, incarnation: incarnation))
    }

    func renewal(_ token: UInt64, at time: Int, incarnation: UInt64 = 7) -> LeaseHolder.Effect {
        .proposeRenewal(.renew(group, holder: "a", incarnation: incarnation, token: token, ttl: settings.ttl), sentAt: ms(time))
    }

    /// A holder that was granted token 1 at 10 ms and whose renewal (sent at 10 ms) applied at 20 ms.
    func hotHolder() -> LeaseHolder {
        var holder = holder()
        _ = holder.applied(state(holder: "a", token: 1), now: ms(10))
        _ = holder.renewed(token: 1, sentAt: ms(10), now: ms(20))
        return holder
    }

    @Test func aGrantAloneDoesNotMakeAReplicaHotItsFirstRenewalDoes() {
        var holder = holder()
        let effects = holder.applied(state(holder: "a", token: 1), now: ms(10))
        #expect(effects == [renewal(1, at: 10), .arm(deadline: ms(160))])
        #expect(holder.phase == .cold && holder.token(at: ms(10)) == nil)
        let answer = holder.renewed(token: 1, sentAt: ms(10), now: ms(30))
        #expect(answer == [.becomeHot(token: 1), .arm(deadline: ms(160))])
        #expect(holder.token(at: ms(30)) == 1)
    }

    @Test func hotnessLastsFromTheSendOfTheRenewalNotItsAnswer() {
        var holder = hotHolder()
        // Sent at 10 ms: hot until 660 ms however late the answer came.
        #expect(holder.phase == .hot(token: 1, until: ms(660)))
        #expect(holder.token(at: ms(659)) == 1)
        #expect(holder.token(at: ms(660)) == nil, "checked before acting, even before the timer fires")
        // A renewal sent at 160 ms and answered at 500 ms extends to 810 ms.
        #expect(holder.tick(now: ms(160)) == [renewal(1, at: 160), .arm(deadline: ms(310))])
        _ = holder.renewed(token: 1, sentAt: ms(160), now: ms(500))
        #expect(holder.phase == .hot(token: 1, until: ms(810)))
        // An older answer arriving late never shortens it.
        _ = holder.renewed(token: 1, sentAt: ms(10), now: ms(510))
        #expect(holder.phase == .hot(token: 1, until: ms(810)))
    }

    @Test func aPausedHolderWakesColdAndAnAnswerPastItsDeadlineDoesNotRevive() {
        var holder = holder()
        _ = holder.applied(state(holder: "a", token: 1), now: ms(10))
        // The process was paused from 11 ms to 5 s: the answer to the 10 ms renewal is stale.
        let effects = holder.renewed(token: 1, sentAt: ms(10), now: ms(5000))
        #expect(!effects.contains(.becomeHot(token: 1)))
        #expect(holder.token(at: ms(5000)) == nil)
        var hot = hotHolder()
        let woke = hot.tick(now: ms(5000))
        #expect(Array(woke.prefix(2)) == [.suspend(token: 1), .becomeCold(token: 1, reason: .expired)],
                "past the point where the lease may have moved: cold at once")
        #expect(woke.contains(renewal(1, at: 5000)), "it keeps renewing while the state names it")
        _ = hot.renewed(token: 1, sentAt: ms(400), now: ms(5001))
        #expect(hot.token(at: ms(5001)) == nil, "a renewal sent before stepping down is ignored")
        #expect(hot.renewed(token: 1, sentAt: ms(5000), now: ms(5010)) == [.becomeHot(token: 1), .arm(deadline: ms(5150))])
    }

    @Test func theTimerFiresAtTheDeadlineAndAtEachRenewal() {
        var holder = hotHolder()
        #expect(holder.tick(now: ms(100)) == [.arm(deadline: ms(160))])
        #expect(holder.tick(now: ms(160)) == [renewal(1, at: 160), .arm(deadline: ms(310))])
        #expect(holder.tick(now: ms(310)) == [renewal(1, at: 310), .arm(deadline: ms(460))])
        #expect(holder.tick(now: ms(460)) == [renewal(1, at: 460), .arm(deadline: ms(610))])
        #expect(holder.tick(now: ms(610)) == [renewal(1, at: 610), .arm(deadline: ms(660))])
        #expect(holder.tick(now: ms(660)) == [.suspend(token: 1), .arm(deadline: ms(760))])
        #expect(holder.tick(now: ms(760)) == [renewal(1, at: 760), .arm(deadline: ms(910))])
        for renewal in stride(from: 910, through: 1360, by: 150) { _ = holder.tick(now: ms(renewal)) }
        #expect(holder.phase == .suspended(token: 1, lastSent: ms(10)), "suspended, renewing")
        #expect(holder.tick(now: coldPoint) == [.becomeCold(token: 1, reason: .expired), .arm(deadline: ms(1510))])
    }

    // MARK: Suspended

    @Test func pastTheDeadlineTheHolderSuspendsAndAnAppliedRenewalResumesItWithTheSameToken() {
        var holder = hotHolder()
        _ = holder.tick(now: ms(160))  // a renewal sent at 160 ms that never commits (election)
        #expect(holder.tick(now: ms(660)).first == .suspend(token: 1))
        #expect(holder.phase == .suspended(token: 1, lastSent: ms(10)))
        #expect(holder.token(at: ms(661)) == nil, "a suspended holder does not act")
        #expect(holder.heldToken == 1)
        // The new leader commits a renewal sent at 700 ms: acting again until 700 + 650 ms, no hot/cold change.
        _ = holder.leaderChanged(now: ms(700))
        #expect(holder.renewed(token: 1, sentAt: ms(700), now: ms(720)) == [.resume(token: 1), .arm(deadline: ms(850))])
        #expect(holder.phase == .hot(token: 1, until: ms(1350)))
        #expect(holder.token(at: ms(1349)) == 1)
    }

    @Test func aRenewalSentBeforeSuspendingResumesOnlyWithinItsOwnDeadline() {
        var holder = hotHolder()
        _ = holder.tick(now: ms(660))
        // Sent at 160 ms, applied late: 160 + 650 = 810 ms is still ahead, so it resumes until then.
        #expect(holder.renewed(token: 1, sentAt: ms(160), now: ms(700)).first == .resume(token: 1))
        #expect(holder.token(at: ms(809)) == 1 && holder.token(at: ms(810)) == nil)
        var late = hotHolder()
        _ = late.tick(now: ms(660))
        #expect(late.renewed(token: 1, sentAt: ms(100), now: ms(760)).allSatisfy { $0 != .resume(token: 1) })
        #expect(late.token(at: ms(760)) == nil, "100 + 650 ms passed: nothing to resume")
    }

    @Test func aSuspendedHolderThatLearnsOfAnotherHolderOrARefusalGoesCold() {
        var holder = hotHolder()
        _ = holder.tick(now: ms(660))
        #expect(holder.applied(state(holder: "b", token: 2, lastChange: 5), now: ms(700)).first == .becomeCold(token: 1, reason: .superseded))
        #expect(holder.renewed(token: 1, sentAt: ms(690), now: ms(710)).isEmpty, "a refused token never resumes")
        var refused = hotHolder()
        _ = refused.tick(now: ms(660))
        let effects = refused.renewalFailed(token: 1, sentAt: ms(670), refusal: .staleToken(current: 2), now: ms(700))
        #expect(effects.first == .becomeCold(token: 1, reason: .superseded))
        var unhealthy = hotHolder()
        _ = unhealthy.tick(now: ms(660))
        #expect(unhealthy.healthChanged(false, now: ms(700)).first == .becomeCold(token: 1, reason: .unhealthy))
    }

    @Test func anUnhealthyHolderStepsDownThenReleasesAndStopsRenewing() {
        var holder = hotHolder()
        let effects = holder.healthChanged(false, now: ms(100))
        #expect(effects == [.becomeCold(token: 1, reason: .unhealthy), release(1)])
        #expect(holder.tick(now: ms(1000)).isEmpty)
        // Healthy again, it does not take back the token it released.
        #expect(holder.healthChanged(true, now: ms(1100)).isEmpty)
        #expect(holder.renewed(token: 1, sentAt: ms(90), now: ms(120)).isEmpty)
        #expect(holder.token(at: ms(120)) == nil)
        // A new grant is renewed again.
        let granted = holder.applied(state(holder: "a", token: 2, lastChange: 9), now: ms(1200))
        #expect(granted.contains(renewal(2, at: 1200)))
    }

    @Test func aGrantToAnUnhealthyReplicaIsReleasedAtOnce() {
        var holder = LeaseHolder(settings: settings, group: group, me: "a", incarnation: 7, healthy: false, now: ms(0))
        #expect(holder.applied(state(holder: "a", token: 4), now: ms(5)) == [release(4)])
    }

    @Test func aMoveElsewhereStepsDownAndReleasesOnceItsWritesInFlightAnswered() {
        var holder = hotHolder()
        let effects = holder.applied(state(holder: "a", token: 1, claimedBy: 7, lastChange: 2, moveTo: "b"), now: ms(50))
        #expect(effects == [.becomeCold(token: 1, reason: .moved), .awaitWritesInFlight(token: 1), .arm(deadline: ms(160))])
        #expect(holder.writesDrained(token: 1, now: ms(60)) == [release(1)])
    }

    @Test func aStateNamingAnotherHolderEndsHotnessAtOnce() {
        var holder = hotHolder()
        #expect(holder.applied(state(holder: "b", token: 2, lastChange: 5), now: ms(50)) == [.becomeCold(token: 1, reason: .superseded)])
        var refused = hotHolder()
        let effects = refused.renewalFailed(token: 1, sentAt: ms(160), refusal: .staleToken(current: 2), now: ms(170))
        #expect(effects.first == .becomeCold(token: 1, reason: .superseded))
        var unknown = hotHolder()
        #expect(unknown.renewalFailed(token: 1, sentAt: ms(160), refusal: nil, now: ms(170)) == [.arm(deadline: ms(160))])
        #expect(unknown.token(at: ms(170)) == 1, "an unknown outcome changes nothing: the deadline decides")
    }

    @Test func aNewLeaderIsRenewedWithAtOnce() {
        var holder = hotHolder()
        _ = holder.tick(now: ms(160))
        #expect(holder.leaderChanged(now: ms(200)) == [renewal(1, at: 200), .arm(deadline: ms(350))])
        var cold = self.holder()
        #expect(cold.leaderChanged(now: ms(200)).isEmpty, "a replica that holds nothing has nothing to renew")
    }

    @Test func stoppingStepsDownAndReleasesOnceItsWritesInFlightAnswered() {
        var holder = hotHolder()
        #expect(holder.stop(now: ms(100)) == [.becomeCold(token: 1, reason: .stopping), .awaitWritesInFlight(token: 1),
                                              .arm(deadline: ms(160))])
        #expect(holder.writesDrained(token: 1, now: ms(110)) == [release(1)])
        #expect(holder.tick(now: ms(200)).isEmpty)
        #expect(holder.applied(state(holder: "a", token: 1, claimedBy: 7, lastChange: 3), now: ms(210)).isEmpty)
    }
}
