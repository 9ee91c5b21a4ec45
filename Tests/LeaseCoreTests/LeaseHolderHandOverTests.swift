import DiscoCore
import Testing
@testable import LeaseCore

/// A graceful hand-over (stop, move) of a holder that held the token: cold at once, renewing
/// without acting while the shell waits for its writes in flight, then the release.
@Suite struct LeaseHolderHandOverTests {
    let group: LeaseGroup = "web"
    let settings = LeaseSettings.forTests  // ttl 800 ms, deadline 650 ms, period 150 ms

    func ms(_ value: Int) -> Duration { .milliseconds(value) }

    func state(holder: NodeID?, token: UInt64, lastChange: UInt64, moveTo: NodeID? = nil) -> LeaseState {
        var state = LeaseState()
        state.holder = holder
        state.token = token
        state.claimedBy = holder == "a" ? 7 : nil
        state.lastChange = lastChange
        state.moveTo = moveTo
        return state
    }

    func release(_ token: UInt64) -> LeaseHolder.Effect {
        .proposeRelease(.release(group, holder: "a", token: token, incarnation: 7))
    }

    func renewal(_ token: UInt64, at time: Int) -> LeaseHolder.Effect {
        .proposeRenewal(.renew(group, holder: "a", incarnation: 7, token: token, ttl: settings.ttl), sentAt: ms(time))
    }

    /// Granted token 1 at 10 ms, its renewal sent at 10 ms applied at 20 ms: hot until 660 ms.
    func hotHolder() -> LeaseHolder {
        var holder = LeaseHolder(settings: settings, group: group, me: "a", incarnation: 7, now: ms(0))
        _ = holder.applied(state(holder: "a", token: 1, lastChange: 1), now: ms(10))
        _ = holder.renewed(token: 1, sentAt: ms(10), now: ms(20))
        return holder
    }

    @Test func whileDrainingItRenewsButNeverActsAgain() {
        var holder = hotHolder()
        _ = holder.stop(now: ms(100))
        #expect(holder.drainingToken == 1 && holder.token(at: ms(100)) == nil)
        // Renewals go on (nobody may be granted the lease meanwhile) and never make it hot.
        #expect(holder.tick(now: ms(160)) == [renewal(1, at: 160), .arm(deadline: ms(310))])
        #expect(holder.renewed(token: 1, sentAt: ms(160), now: ms(170)) == [.arm(deadline: ms(310))])
        #expect(holder.applied(state(holder: "a", token: 1, lastChange: 3), now: ms(175)) == [.arm(deadline: ms(310))])
        #expect(holder.phase == .cold && holder.token(at: ms(175)) == nil)
        #expect(holder.tick(now: ms(310)) == [renewal(1, at: 310), .arm(deadline: ms(460))])
        // A drain for another token changes nothing; its own ends in the release.
        #expect(holder.writesDrained(token: 9, now: ms(320)) == [.arm(deadline: ms(460))])
        #expect(holder.writesDrained(token: 1, now: ms(330)) == [release(1)])
        #expect(holder.drainingToken == nil)
        #expect(holder.tick(now: ms(460)).isEmpty, "released: no more renewals")
    }

    @Test func aMoveThenAStopDrainOnce() {
        var holder = hotHolder()
        let moved = holder.applied(state(holder: "a", token: 1, lastChange: 2, moveTo: "b"), now: ms(50))
        #expect(moved == [.becomeCold(token: 1, reason: .moved), .awaitWritesInFlight(token: 1), .arm(deadline: ms(160))])
        #expect(holder.stop(now: ms(60)) == [.arm(deadline: ms(160))], "already draining: no second wait, no release yet")
        #expect(holder.writesDrained(token: 1, now: ms(70)) == [release(1)])
    }

    @Test func anUnhealthyUpstreamEndsTheWaitWithTheRelease() {
        var holder = hotHolder()
        _ = holder.stop(now: ms(100))
        #expect(holder.healthChanged(false, now: ms(120)) == [release(1)])
        #expect(holder.writesDrained(token: 1, now: ms(130)).isEmpty)
    }

    @Test func anotherHolderEndsTheWaitWithNothingToRelease() {
        var holder = hotHolder()
        _ = holder.stop(now: ms(100))
        #expect(holder.applied(state(holder: "b", token: 2, lastChange: 5), now: ms(120)).isEmpty)
        #expect(holder.drainingToken == nil)
        #expect(holder.writesDrained(token: 1, now: ms(130)).isEmpty)
        var refused = hotHolder()
        _ = refused.stop(now: ms(100))
        _ = refused.renewalFailed(token: 1, sentAt: ms(160), refusal: .staleToken(current: 2), now: ms(170))
        #expect(refused.drainingToken == nil)
    }

    @Test func aHolderThatNeverActedReleasesAtOnce() {
        var granted = LeaseHolder(settings: settings, group: group, me: "a", incarnation: 7, now: ms(0))
        _ = granted.applied(state(holder: "a", token: 1, lastChange: 1), now: ms(10))  // its first renewal is on its way
        #expect(granted.stop(now: ms(15)) == [release(1)])
        var moving = LeaseHolder(settings: settings, group: group, me: "a", incarnation: 7, now: ms(0))
        _ = moving.applied(state(holder: "a", token: 1, lastChange: 1), now: ms(10))
        #expect(moving.applied(state(holder: "a", token: 1, lastChange: 2, moveTo: "b"), now: ms(15)) == [release(1)])
    }
}
