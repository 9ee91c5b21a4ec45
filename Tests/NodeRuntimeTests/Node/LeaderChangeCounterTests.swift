import DiscoCore
import Testing
@testable import NodeRuntime

/// `disco_raft_leader_changes_total` counts changes of the known leader, not leadership notices.
@Suite struct LeaderChangeCounterTests {
    func counted(_ leaders: [String?]) -> Int {
        var counter = LeaderChangeCounter()
        for leader in leaders { counter.observe(leader.flatMap { NodeID($0) }) }
        return counter.changes
    }

    @Test func aFreshSingleNodeCountsOne() {
        // What a single node reports while it elects itself: no leader in terms 1 and 2 (pre-vote,
        // campaign), then itself, then itself again in later notices.
        #expect(counted([nil, nil, "1", "1"]) == 1)
        #expect(counted([]) == 0)
        #expect(counted([nil]) == 0)
    }

    @Test func anotherLeaderIsAChange() {
        #expect(counted(["1", "2"]) == 2)
        #expect(counted(["1", nil, "2", "3"]) == 3)
    }

    @Test func theLeaderKnownAgainAfterNoneIsAChangeAsInEtcd() {
        #expect(counted(["1", nil, "1"]) == 2)
        #expect(counted(["1", nil, nil, "1", "1"]) == 2)
    }

    @Test func theMetricsExposeTheCount() {
        let metrics = NodeMetrics()
        for leader in [nil, "2", "2", nil, "2", "3"] as [String?] { metrics.observeLeader(leader.flatMap { NodeID($0) }) }
        #expect(metrics.leaderChanges == 3)
    }
}
