import DiscoCore
import Testing
@testable import LeaseCore

/// A new process of the holder's node and the claim of the earlier process: the earlier one may
/// be alive (paused, or cut off while a new pod with its name started elsewhere), so the claim is
/// released only once its hot window must have ended, and only if it did not renew meanwhile.
@Suite struct LeaseHolderPredecessorTests {
    let group: LeaseGroup = "web"
    /// ttl 800 ms, deadline 650 ms: the new process waits 800 ms (the ttl) from its apply.
    let settings = LeaseSettings.forTests

    func ms(_ value: Int) -> Duration { .milliseconds(value) }

    /// The group held by this node with token 3, claimed by the earlier process (incarnation 7).
    func claimed(lastChange: UInt64, holderTTL: Duration? = nil) -> LeaseState {
        LeaseState(holder: "a", token: 3, claimedBy: 7, lastChange: lastChange, moveTo: nil, lastHolder: "a", holderTTL: holderTTL)
    }

    /// A new process (incarnation 8) of node "a".
    func newProcess() -> LeaseHolder {
        LeaseHolder(settings: settings, group: group, me: "a", incarnation: 8, now: ms(0))
    }

    func release(ifLastChange: UInt64) -> LeaseHolder.Effect {
        .proposeRelease(.release(group, holder: "a", token: 3, incarnation: 8, ifLastChange: ifLastChange))
    }

    @Test func theClaimIsReleasedOnlyAfterTheWaitAndOnlyOnce() {
        var holder = newProcess()
        #expect(holder.applied(claimed(lastChange: 5), now: ms(5)) == [.arm(deadline: ms(805))], "no renewal, no release yet")
        #expect(holder.predecessorReleaseAt == ms(805))
        #expect(holder.tick(now: ms(804)) == [.arm(deadline: ms(805))])
        // The same state applied again (a refused command) does not move the wait.
        #expect(holder.applied(claimed(lastChange: 5), now: ms(600)) == [.arm(deadline: ms(805))])
        #expect(holder.tick(now: ms(805)) == [release(ifLastChange: 5)])
        #expect(holder.tick(now: ms(900)).isEmpty)
        #expect(holder.token(at: ms(900)) == nil && holder.heldToken == nil)
    }

    @Test func aRenewalOfTheEarlierProcessRestartsTheWait() {
        var holder = newProcess()
        _ = holder.applied(claimed(lastChange: 5), now: ms(5))
        // The earlier process is alive: its renewal committed, and its hot window moved on.
        #expect(holder.applied(claimed(lastChange: 6), now: ms(400)) == [.arm(deadline: ms(1200))])
        #expect(holder.tick(now: ms(805)) == [.arm(deadline: ms(1200))])
        #expect(holder.tick(now: ms(1200)) == [release(ifLastChange: 6)])
        // It renewed again before the release committed: the release is refused (the state's last
        // change moved), and the wait starts again from the apply of that renewal.
        #expect(holder.applied(claimed(lastChange: 8), now: ms(1250)) == [.arm(deadline: ms(2050))])
        #expect(holder.tick(now: ms(2050)) == [release(ifLastChange: 8)])
    }

    @Test func theReleaseIsACompareAndSetOnTheWaitedOutChange() {
        var table = LeaseTable()
        _ = table.apply(.grant(group, to: "a", expectedLastChange: 0), index: 1)
        _ = table.apply(.renew(group, holder: "a", incarnation: 7, token: 1), index: 2)
        _ = table.apply(.renew(group, holder: "a", incarnation: 7, token: 1), index: 3)
        #expect(table.apply(.release(group, holder: "a", token: 1, incarnation: 8, ifLastChange: 2), index: 4)
            == .refused(group, .changedSince(expected: 2, actual: 3)))
        #expect(table.apply(.release(group, holder: "a", token: 1, incarnation: 8), index: 5)
            == .refused(group, .claimedByAnotherIncarnation(7)), "without the compare-and-set, only the claimant releases")
        #expect(table.apply(.release(group, holder: "a", token: 1, incarnation: 8, ifLastChange: 3), index: 6)
            == .released(group, holder: "a", token: 1))
        // An unclaimed grant is released by any process of the holder (nobody acted with it).
        _ = table.apply(.grant(group, to: "a", expectedLastChange: 6), index: 7)
        #expect(table.apply(.release(group, holder: "a", token: 2, incarnation: 8), index: 8) == .released(group, holder: "a", token: 2))
    }

    @Test func theWaitIsTheEarlierProcesssTTLWhenItIsLonger() {
        var holder = newProcess()
        #expect(holder.predecessorWait == ms(800))
        #expect(holder.applied(claimed(lastChange: 5, holderTTL: .seconds(2)), now: ms(5)) == [.arm(deadline: ms(2005))])
        #expect(holder.tick(now: ms(2004)) == [.arm(deadline: ms(2005))])
        #expect(holder.tick(now: ms(2005)) == [release(ifLastChange: 5)])
        var shorter = newProcess()
        #expect(shorter.applied(claimed(lastChange: 5, holderTTL: ms(300)), now: ms(5)) == [.arm(deadline: ms(805))])
    }

    @Test func neitherStoppingNorAnUnhealthyUpstreamReleasesTheClaimEarly() {
        var stopping = newProcess()
        _ = stopping.applied(claimed(lastChange: 5), now: ms(5))
        #expect(stopping.stop(now: ms(10)).isEmpty)
        var unhealthy = newProcess()
        _ = unhealthy.applied(claimed(lastChange: 5), now: ms(5))
        #expect(unhealthy.healthChanged(false, now: ms(10)) == [.arm(deadline: ms(805))])
        #expect(unhealthy.tick(now: ms(805)) == [release(ifLastChange: 5)])
        var moved = newProcess()
        var target = claimed(lastChange: 5)
        target.moveTo = "b"
        #expect(moved.applied(target, now: ms(5)) == [.arm(deadline: ms(805))])
    }

    @Test func anUnclaimedGrantIsTheNewProcesssToClaim() {
        var holder = newProcess()
        let unclaimed = LeaseState(holder: "a", token: 3, claimedBy: nil, lastChange: 5, moveTo: nil, lastHolder: "a")
        #expect(holder.applied(unclaimed, now: ms(5)).contains(
            .proposeRenewal(.renew(group, holder: "a", incarnation: 8, token: 3, ttl: settings.ttl), sentAt: ms(5))))
        #expect(holder.predecessorReleaseAt == nil)
    }
}
