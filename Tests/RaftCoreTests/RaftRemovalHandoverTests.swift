import DiscoCore
import DiscoRaft
import RaftCore
import DiscoTestKit
import Testing

// MARK: - A leader that removes itself hands leadership over

@Suite("Raft removal of the leader: prompt handover")
struct RaftRemovalHandoverTests {
    let n1: NodeID = "n1", n2: NodeID = "n2", n3: NodeID = "n3", n4: NodeID = "n4", n5: NodeID = "n5"

    /// What happened between the leader's own removal committing and the next leader.
    struct Handover {
        var removalIndex: UInt64
        /// Ticks from the removal's commit on the old leader until another node leads.
        var ticks: Int
        /// Remaining voters that had committed the removal before the new leader took over.
        var committedBeforeNewLeader: [NodeID]
    }

    /// Elects n1 in a group of `voters`, has it propose its own removal, delivers one message at a
    /// time until the removal commits on n1, then ticks every node until another node leads.
    func removeLeader(voters: [NodeID], cluster: inout RaftTestCluster) throws -> Handover {
        let removalIndex = try cluster.commitOwnRemoval(of: n1)
        let others = voters.filter { $0 != n1 }
        var ticks = 0
        cluster.deliverAll()
        var committed = others.filter { cluster[$0].commitIndex >= removalIndex }
        while !others.contains(where: { cluster[$0].role == .leader }), ticks < 10 * cluster.options.electionTicks {
            for id in cluster.ids { cluster.tick(id) }
            ticks += 1
            committed = others.filter { cluster[$0].commitIndex >= removalIndex }
            cluster.deliverAll()
        }
        return Handover(removalIndex: removalIndex, ticks: ticks, committedBeforeNewLeader: committed)
    }

    /// Checks what must hold once another node leads: the removed node stays out for good.
    func expectRemovedNodeStaysOut(_ cluster: inout RaftTestCluster, others: [NodeID]) {
        let leaders = cluster.leaders
        #expect(leaders.count == 1)
        guard let leader = leaders.first else { return }
        #expect(leader != n1)
        #expect(cluster[leader].config.voters == others, "the new leader's configuration leaves n1 out")
        #expect(cluster[n1].role == .follower)
        #expect(!cluster[n1].isPromotable)
        #expect(cluster[n1].removal != nil)
        let term = cluster[n1].term
        let sentBefore = cluster.sent.count
        cluster.tickAll(times: 6 * cluster.options.electionTicks)
        let campaigns = cluster.sent[sentBefore...].filter { message in
            guard message.from == n1 else { return false }
            switch message.body {
            case .preVote, .vote: return true
            default: return false
            }
        }
        #expect(campaigns.isEmpty, "the removed node never campaigns")
        #expect(cluster[n1].role == .follower)
        #expect(cluster.leaders == [leader], "the new leader keeps leading")
        #expect(cluster[leader].term > term || cluster[n1].term == cluster[leader].term)
    }

    @Test("3 voters: the next leader takes over within a tick of the leader's removal committing")
    func threeVoters() throws {
        let voters = [n1, n2, n3]
        var cluster = RaftTestCluster(voters: voters)
        let handover = try removeLeader(voters: voters, cluster: &cluster)
        // Stepping down silently left the followers to wait out their leases and an election
        // timeout: at least `electionTicks` ticks.
        #expect(handover.ticks <= 1, "took \(handover.ticks) ticks (election timeout \(cluster.options.electionTicks))")
        #expect(handover.committedBeforeNewLeader == [n2, n3], "the old leader sent the commit index first")
        #expect(cluster.sent.contains { $0.from == n1 && $0.body == .timeoutNow })
        expectRemovedNodeStaysOut(&cluster, others: [n2, n3])
    }

    @Test("5 voters: the next leader takes over within a tick of the leader's removal committing")
    func fiveVoters() throws {
        let voters = [n1, n2, n3, n4, n5]
        var cluster = RaftTestCluster(voters: voters)
        let handover = try removeLeader(voters: voters, cluster: &cluster)
        #expect(handover.ticks <= 1, "took \(handover.ticks) ticks (election timeout \(cluster.options.electionTicks))")
        expectRemovedNodeStaysOut(&cluster, others: [n2, n3, n4, n5])
    }

    /// Has n1 propose its own removal and one more entry that reaches nobody before the removal
    /// commits, so no remaining voter holds n1's whole log then. Returns the removal's index.
    func commitRemovalAheadOfLog(_ cluster: inout RaftTestCluster) throws -> UInt64 {
        cluster.elect(n1)
        cluster.tickAll(times: 1)
        let removalIndex = try cluster.with(n1) { try $0.proposeConfigChange(.remove(n1)) }
        let heldBack = cluster.inFlight
        cluster.inFlight = []
        try cluster.with(n1) { _ = try $0.propose([7]) }
        cluster.inFlight = heldBack
        while cluster[n1].commitIndex < removalIndex, !cluster.inFlight.isEmpty {
            cluster.deliverAll(maxMessages: 1)
        }
        #expect(cluster[n1].commitIndex >= removalIndex)
        #expect(cluster[n1].lastIndex > removalIndex)
        #expect(!cluster.sent.contains { $0.from == n1 && $0.body == .timeoutNow }, "nobody holds the whole log yet")
        return removalIndex
    }

    @Test("no remaining voter holds the whole log: the leader catches one up, then hands over")
    func catchUpThenHandOver() throws {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        _ = try commitRemovalAheadOfLog(&cluster)
        #expect(cluster[n1].role == .leader, "it leads on only to catch a voter up")
        #expect(throws: RaftError.self) { try cluster.with(n1) { _ = try $0.propose([8]) } }
        cluster.deliverAll()
        #expect(cluster.sent.contains { $0.from == n1 && $0.body == .timeoutNow })
        #expect(cluster[n1].role == .follower)
        #expect(cluster.leaders.count == 1 && cluster.leaders.first != n1, "handed over without a tick")
        expectRemovedNodeStaysOut(&cluster, others: [n2, n3])
    }

    @Test("catching a voter up is bounded: cut off, the leader steps down after an election timeout")
    func catchUpIsBounded() throws {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        _ = try commitRemovalAheadOfLog(&cluster)
        cluster.isolate(n1)
        cluster.inFlight = []
        for _ in 0..<(cluster.options.electionTicks - 1) { cluster.tick(n1) }
        #expect(cluster[n1].role == .leader)
        cluster.tick(n1)
        #expect(cluster[n1].role == .follower, "gave up the catch-up after an election timeout")
        #expect(cluster[n1].removal != nil)
        #expect(!cluster.sent.contains { $0.from == n1 && $0.body == .timeoutNow })
        cluster.heal()
        cluster.tickAll(times: 6 * cluster.options.electionTicks)
        expectRemovedNodeStaysOut(&cluster, others: [n2, n3])
    }

    @Test("lease reads end when the removed leader hands over")
    func leaseReadsEndAtHandover() throws {
        var options = RaftOptions()
        options.leaseReads = true
        var cluster = RaftTestCluster(voters: [n1, n2, n3], options: options)
        cluster.elect(n1)
        cluster.tickAll(times: 1)
        cluster.with(n1) { $0.readIndex(context: 1) }
        #expect(cluster.readStates[n1]?.last == ReadState(context: 1, outcome: .ready(index: cluster[n1].commitIndex)),
                "the lease holds before the removal")
        let removalIndex = try cluster.with(n1) { try $0.proposeConfigChange(.remove(n1)) }
        while cluster[n1].commitIndex < removalIndex, !cluster.inFlight.isEmpty {
            cluster.deliverAll(maxMessages: 1)
        }
        #expect(cluster.sent.contains { $0.from == n1 && $0.body == .timeoutNow })
        cluster.with(n1) { $0.readIndex(context: 2) }
        #expect(cluster.readStates[n1]?.last?.context == 2)
        #expect(cluster.readStates[n1]?.last?.outcome != .ready(index: cluster[n1].commitIndex),
                "no read is served from the lease once TimeoutNow went out")
        cluster.deliverAll()
        expectRemovedNodeStaysOut(&cluster, others: [n2, n3])
    }
}
