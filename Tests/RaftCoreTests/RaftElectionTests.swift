import DiscoCore
import RaftCore
import DiscoTestKit
import Testing

// MARK: - Elections

@Suite("Raft elections")
struct RaftElectionTests {
    let n1: NodeID = "n1", n2: NodeID = "n2", n3: NodeID = "n3"

    @Test("bootstrapping with the same voters gives every node the same first entry")
    func identicalBootstrap() {
        let a = PersistentState.bootstrap(voters: ["n1", "n2", "n3"])
        let b = PersistentState.bootstrap(voters: ["n3", "n1", "n2"])
        #expect(a == b)
        #expect(a.entries.count == 1 && a.entries[0].index == 1 && a.entries[0].term == 1)
        #expect(a.entries[0].kind == .config)
    }

    @Test("a node times out, wins a pre-vote and a vote, and appends a no-op")
    func electsLeaderAfterTimeout() {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.tickAll(times: 2 * cluster.options.electionTicks)
        #expect(cluster.leaders.count == 1)
        guard let leader = cluster.leaders.first else { return }
        #expect(cluster[leader].term == 2)
        #expect(cluster[leader].entry(at: 2)?.kind == .noop)
        cluster.deliverAll()
        for id in cluster.ids { #expect(cluster[id].commitIndex == 2) }
    }

    @Test("election restriction: a candidate with a less up-to-date log cannot win")
    func electionRestriction() throws {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        cluster.isolate(n3)
        for value in 0..<3 { try cluster.with(n1) { _ = try $0.propose([UInt8(value)]) } }
        cluster.deliverAll()
        #expect(cluster[n2].lastIndex == 5)
        #expect(cluster[n3].lastIndex == 2)
        // The leader goes away; n3 comes back and campaigns without pre-vote's protection.
        cluster.heal()
        cluster.isolate(n1)
        cluster.with(n3) { $0.startElectionForTest() }
        cluster.deliverAll()
        #expect(cluster[n3].role != .leader)
        #expect(cluster.sent.contains { $0.from == n2 && $0.to == n3 && $0.body == .voteResponse(granted: false) })
        // n2, with the longer log, can win.
        cluster.with(n2) { $0.startElectionForTest() }
        cluster.deliverAll()
        #expect(cluster[n2].role == .leader)
    }

    @Test("a stale leader steps down when it sees a higher term, and its uncommitted entries are replaced")
    func staleLeaderStepsDown() throws {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        cluster.isolate(n1)
        try cluster.with(n1) { _ = try $0.propose([9]) }  // never reaches a quorum
        // n2 and n3 stop hearing from n1; once their lease runs out one of them is elected.
        for _ in 0..<(4 * cluster.options.electionTicks) where cluster[n2].role != .leader && cluster[n3].role != .leader {
            cluster.tick(n2)
            cluster.tick(n3)
            cluster.deliverAll()
        }
        if cluster[n3].role == .leader {
            cluster.with(n3) { try? $0.transferLeadership(to: "n2") }
            cluster.deliverAll()
        }
        #expect(cluster[n2].role == .leader)
        #expect(cluster[n2].term > cluster[n1].term)
        #expect(cluster[n1].role == .leader)  // it does not know yet
        cluster.heal()
        cluster.tick(n2, times: cluster.options.heartbeatTicks)
        cluster.deliverAll()
        #expect(cluster[n1].role == .follower)
        #expect(cluster[n1].leader == n2)
        #expect(cluster[n1].term == cluster[n2].term)
        #expect(cluster[n1].entries == cluster[n2].entries)
        #expect(!(cluster.applied[n1] ?? []).contains { $0.data == [9] })
    }

    @Test("check-quorum: a leader that hears from no quorum for an election timeout steps down")
    func checkQuorumStepDown() {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        cluster.isolate(n1)
        cluster.tick(n1, times: cluster.options.electionTicks)
        #expect(cluster[n1].role == .leader)  // the first period started with everyone active
        cluster.tick(n1, times: cluster.options.electionTicks)
        #expect(cluster[n1].role == .follower)
    }

    @Test("check-quorum: a follower with a live leader ignores vote requests")
    func followerInLeaseIgnoresVotes() {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        let termBefore = cluster[n2].term
        cluster.with(n2) {
            $0.receive(Message(from: n3, to: n2, term: termBefore + 5, body: .vote(lastIndex: 100, lastTerm: 100, transfer: false)))
        }
        #expect(cluster[n2].term == termBefore)
        #expect(cluster[n2].leader == n1)
    }

    @Test("pre-vote: a partitioned node does not bump the cluster's term when it rejoins")
    func preVotePreventsDisruption() {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        let term = cluster[n1].term
        cluster.isolate(n3)
        for _ in 0..<(10 * cluster.options.electionTicks) {
            cluster.tick(n1)
            cluster.tick(n2)
            cluster.tick(n3)
            cluster.deliverAll()
        }
        #expect(cluster[n3].term == term)  // pre-votes never won, so no real election
        cluster.heal()
        cluster.tickAll(times: 3 * cluster.options.electionTicks)
        #expect(cluster[n1].role == .leader)
        #expect(cluster[n1].term == term)
        #expect(cluster[n3].leader == n1)
    }

    @Test("without pre-vote a partitioned node does bump its term (the disruption pre-vote prevents)")
    func withoutPreVoteTermGrows() {
        var options = RaftOptions()
        options.preVote = false
        var cluster = RaftTestCluster(voters: [n1, n2, n3], options: options)
        cluster.elect(n1)
        let term = cluster[n1].term
        cluster.isolate(n3)
        cluster.tick(n3, times: 4 * cluster.options.electionTicks)
        #expect(cluster[n3].term > term)
    }

    @Test("a vote is persisted in the same Ready as the response that reveals it")
    func votePersistedBeforeResponse() {
        var node = RaftNode.testNode(n2, voters: [n1, n2, n3])
        _ = node.ready()
        node.receive(Message(from: n1, to: n2, term: 2, body: .vote(lastIndex: 1, lastTerm: 1, transfer: false)))
        let ready = node.ready()
        #expect(ready.hardState?.vote == n1)
        #expect(ready.hardState?.term == 2)
        #expect(ready.messages.contains { $0.body == .voteResponse(granted: true) })
    }

    @Test("randomized election timeouts lie in [electionTicks, 2·electionTicks)")
    func randomizedTimeoutRange() {
        for seed in 0..<50 as Range<UInt64> {
            var node = RaftNode.testNode(n1, voters: [n1, n2, n3], seed: seed)
            var ticks = 0
            while node.role == .follower, ticks < 100 {
                node.tick()
                ticks += 1
            }
            #expect(ticks >= node.options.electionTicks && ticks < 2 * node.options.electionTicks)
        }
    }
}

extension RaftNode {
    /// A node bootstrapped with `voters`, for tests.
    static func testNode(_ id: NodeID, voters: [NodeID], options: RaftOptions = RaftOptions(), seed: UInt64 = 7) -> RaftNode {
        do {
            return try RaftNode(id: id, options: options, state: .bootstrap(voters: voters), random: DeterministicRandom(seed: seed))
        } catch {
            preconditionFailure("\(error)")
        }
    }

    /// Campaigns without pre-vote, as after a TimeoutNow.
    mutating func startElectionForTest() {
        receive(Message(from: leader ?? "nobody", to: id, term: term, body: .timeoutNow))
    }
}
