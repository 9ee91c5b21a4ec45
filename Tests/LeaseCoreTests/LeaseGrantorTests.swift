import DiscoCore
import Testing
@testable import LeaseCore

@Suite struct LeaseGrantorTests {
    let group: LeaseGroup = "web"
    /// ttl 800 ms, renew deadline 650 ms, renew period 150 ms.
    let settings = LeaseSettings.forTests

    func ms(_ value: Int) -> Duration { .milliseconds(value) }

    func state(holder: NodeID?, token: UInt64, lastChange: UInt64, moveTo: NodeID? = nil, lastHolder: NodeID? = nil) -> LeaseState {
        var state = LeaseState()
        state.holder = holder
        state.lastHolder = lastHolder ?? holder
        state.token = token
        state.lastChange = lastChange
        state.moveTo = moveTo
        return state
    }

    let everyone = [LeaseCandidate(node: "a"), LeaseCandidate(node: "b"), LeaseCandidate(node: "c")]

    @Test func onlyTheLeaderGrantsAndOnlyOnceItAppliedTheState() {
        var grantor = LeaseGrantor(settings: settings, group: group)
        #expect(grantor.decide(now: ms(0), isLeader: true, candidates: everyone).isEmpty, "nothing applied yet")
        grantor.applied(LeaseState(), now: ms(5))
        #expect(grantor.decide(now: ms(10), isLeader: false, candidates: everyone).isEmpty)
        #expect(grantor.decide(now: ms(10), isLeader: true, candidates: everyone)
            == [.proposeGrant(.grant(group, to: "a", expectedLastChange: 0)), .arm(deadline: ms(160))])
    }

    @Test func theHighestPriorityEligibleReplicaIsChosen() {
        let grantor = LeaseGrantor(settings: settings, group: group)
        let candidates = [
            LeaseCandidate(node: "a", priority: 5, healthy: false),
            LeaseCandidate(node: "b", priority: 9, mayBeHot: false),
            LeaseCandidate(node: "c", priority: 7, inTouch: false),
            LeaseCandidate(node: "e", priority: 2),
            LeaseCandidate(node: "d", priority: 2),
            LeaseCandidate(node: "f", priority: 1),
        ]
        #expect(grantor.choose(from: candidates) == "d")
        #expect(grantor.choose(from: Array(candidates.prefix(3))) == nil)
    }

    @Test func aHeldLeaseIsGrantedAgainOnlyATTLAfterTheLatestChangeWasApplied() {
        var grantor = LeaseGrantor(settings: settings, group: group)
        grantor.applied(state(holder: "a", token: 1, lastChange: 4), now: ms(100))
        #expect(grantor.decide(now: ms(500), isLeader: true, candidates: everyone) == [.arm(deadline: ms(900))])
        // A renewal applied at 600 ms moves the earliest grant to 1400 ms.
        grantor.applied(state(holder: "a", token: 1, lastChange: 6), now: ms(600))
        #expect(grantor.decide(now: ms(900), isLeader: true, candidates: everyone) == [.arm(deadline: ms(1400))])
        // Applying the same change again (a snapshot, a repeated notification) keeps the first time.
        grantor.applied(state(holder: "a", token: 1, lastChange: 6), now: ms(1000))
        #expect(grantor.grantableAt == ms(1400))
        let effects = grantor.decide(now: ms(1400), isLeader: true, candidates: everyone)
        #expect(effects.first == .proposeGrant(.grant(group, to: "b", expectedLastChange: 6)), "the expired holder is passed over")
    }

    @Test func aNewlyElectedLeaderLeavesALiveHolderItsRenewDeadlineToRenew() {
        var grantor = LeaseGrantor(settings: settings, group: group)
        grantor.applied(state(holder: "a", token: 1, lastChange: 4), now: ms(100))
        // Elected at 850 ms, after the ttl ran out during the election: it waits until 850 + 650 ms.
        grantor.leadershipGained(now: ms(850), previousLeader: "c")
        #expect(grantor.decide(now: ms(900), isLeader: true, candidates: everyone) == [.arm(deadline: ms(1500))])
        // The holder renews through it: no grant, the ttl counts from that apply.
        grantor.applied(state(holder: "a", token: 1, lastChange: 9), now: ms(920))
        #expect(grantor.decide(now: ms(1500), isLeader: true, candidates: everyone) == [.arm(deadline: ms(1720))])
        // A holder that was the replaced leader gets no grace: it most likely died with it.
        var replaced = LeaseGrantor(settings: settings, group: group)
        replaced.applied(state(holder: "a", token: 1, lastChange: 4), now: ms(100))
        replaced.leadershipGained(now: ms(850), previousLeader: "a")
        #expect(replaced.decide(now: ms(900), isLeader: true, candidates: everyone).first
            == .proposeGrant(.grant(group, to: "b", expectedLastChange: 4)))
        // A released lease needs no grace either.
        var released = LeaseGrantor(settings: settings, group: group)
        released.applied(state(holder: nil, token: 1, lastChange: 5, lastHolder: "a"), now: ms(100))
        released.leadershipGained(now: ms(850), previousLeader: nil)
        #expect(released.decide(now: ms(850), isLeader: true, candidates: everyone).first
            == .proposeGrant(.grant(group, to: "b", expectedLastChange: 5)))
    }

    @Test func theLastHolderIsChosenAgainOnlyWhenNoOtherReplicaIsEligible() {
        var grantor = LeaseGrantor(settings: settings, group: group)
        grantor.applied(state(holder: nil, token: 2, lastChange: 8, lastHolder: "a"), now: ms(0))
        #expect(grantor.choose(from: everyone) == "b", "a released the lease (unhealthy, stopping, restarted)")
        let onlyA = [LeaseCandidate(node: "a"), LeaseCandidate(node: "b", healthy: false), LeaseCandidate(node: "c", inTouch: false)]
        #expect(grantor.choose(from: onlyA) == "a")
    }

    @Test func aReleasedLeaseIsGrantedAtOnce() {
        var grantor = LeaseGrantor(settings: settings, group: group)
        grantor.applied(state(holder: nil, token: 3, lastChange: 8), now: ms(100))
        #expect(grantor.decide(now: ms(101), isLeader: true, candidates: everyone).first
            == .proposeGrant(.grant(group, to: "a", expectedLastChange: 8)))
    }

    @Test func theSameGrantIsProposedAgainOnlyAfterTheRetryInterval() {
        var grantor = LeaseGrantor(settings: settings, group: group)
        grantor.applied(LeaseState(), now: ms(0))
        #expect(grantor.decide(now: ms(10), isLeader: true, candidates: everyone).count == 2)
        #expect(grantor.decide(now: ms(100), isLeader: true, candidates: everyone) == [.arm(deadline: ms(160))])
        #expect(grantor.decide(now: ms(160), isLeader: true, candidates: everyone).first
            == .proposeGrant(.grant(group, to: "a", expectedLastChange: 0)))
        // A new base is proposed at once.
        grantor.applied(state(holder: nil, token: 1, lastChange: 3), now: ms(170))
        #expect(grantor.decide(now: ms(171), isLeader: true, candidates: everyone).first
            == .proposeGrant(.grant(group, to: "a", expectedLastChange: 3)))
    }

    @Test func aMoveTargetIsPreferredWhenEligible() {
        var grantor = LeaseGrantor(settings: settings, group: group)
        grantor.applied(state(holder: nil, token: 1, lastChange: 3, moveTo: "c"), now: ms(0))
        #expect(grantor.choose(from: everyone) == "c")
        let withoutC = [LeaseCandidate(node: "a"), LeaseCandidate(node: "b"), LeaseCandidate(node: "c", healthy: false)]
        #expect(grantor.choose(from: withoutC) == "a", "an ineligible target falls back to the usual choice")
    }

    @Test func noEligibleReplicaMeansNoGrant() {
        var grantor = LeaseGrantor(settings: settings, group: group)
        grantor.applied(LeaseState(), now: ms(0))
        #expect(grantor.decide(now: ms(10), isLeader: true, candidates: [LeaseCandidate(node: "a", mayBeHot: false)]).isEmpty)
    }

    @Test func theLeaderGrantsUnlessItRunsNoReplicaOfTheGroup() {
        let replicas = [LeaseCandidate(node: "c"), LeaseCandidate(node: "a", inTouch: false), LeaseCandidate(node: "b")]
        #expect(LeaseGrantor.grants(isLeader: true, leader: "c", candidates: replicas))
        #expect(!LeaseGrantor.grants(isLeader: false, leader: "c", candidates: replicas), "a replica of the leader's group")
        #expect(LeaseGrantor.grants(isLeader: false, leader: "z", candidates: replicas), "the leader runs no replica of the group")
        #expect(!LeaseGrantor.grants(isLeader: false, leader: nil, candidates: replicas))
    }

    @Test func aHolderWithALongerTTLIsWaitedForAndAnOlderOneIsGivenOurOwn() {
        var grantor = LeaseGrantor(settings: settings, group: group)
        var held = state(holder: "a", token: 1, lastChange: 4)
        held.holderTTL = .seconds(3)
        grantor.applied(held, now: ms(100))
        #expect(grantor.grantableAt == ms(3100), "the holder's renew deadline was checked against its 3 s ttl")
        #expect(grantor.decide(now: ms(2000), isLeader: true, candidates: everyone) == [.arm(deadline: ms(3100))])
        held.holderTTL = .milliseconds(200)
        held.lastChange = 5
        grantor.applied(held, now: ms(3000))
        #expect(grantor.grantableAt == ms(3800), "a shorter holder ttl never shortens our own")
        held.holderTTL = nil
        held.lastChange = 6
        grantor.applied(held, now: ms(4000))
        #expect(grantor.grantableAt == ms(4800), "a holder that predates the field: our own ttl")
    }
}
