import DiscoCore
import RaftCore
import DiscoTestKit
import Testing

// MARK: - Read barriers, pre-vote and transfers against a live leader

@Suite("Raft read barriers and leader stickiness")
struct RaftReadBarrierTests {
    let n1: NodeID = "n1", n2: NodeID = "n2", n3: NodeID = "n3"

    func electedCluster(options: RaftOptions = RaftOptions()) -> RaftTestCluster {
        var cluster = RaftTestCluster(voters: [n1, n2, n3], options: options)
        cluster.elect(n1)
        cluster.tickAll(times: 1)
        return cluster
    }

    var leaseOptions: RaftOptions {
        var options = RaftOptions()
        options.leaseReads = true
        return options
    }

    func servedReads(_ cluster: RaftTestCluster, _ id: NodeID) -> [UInt64] {
        cluster.readStates[id, default: []].compactMap { state in
            if case .ready(let index) = state.outcome { return index }
            return nil
        }
    }

    @Test("ReadIndex: answers to heartbeats sent before the read started do not confirm it")
    func earlierHeartbeatAnswersDoNotConfirmARead() throws {
        var cluster = electedCluster()
        cluster.inFlight = []
        // A heartbeat round goes out before the read and is answered after it started.
        cluster.tick(n1, times: cluster.options.heartbeatTicks)
        let earlier = cluster.inFlight.filter { $0.to == n2 || $0.to == n3 }
        cluster.inFlight = []
        cluster.with(n1) { $0.readIndex(context: 7) }
        let readRound = cluster.inFlight
        cluster.inFlight = earlier
        cluster.deliverAll()
        #expect(cluster.readStates[n1, default: []].isEmpty)
        cluster.inFlight = readRound
        cluster.deliverAll()
        #expect(cluster.readStates[n1, default: []].map(\.context) == [7])
    }

    @Test("pre-vote: a follower cut off from the leader alone cannot depose it through the others")
    func followerCutOffFromTheLeaderAlone() {
        var cluster = electedCluster()
        let term = cluster[n1].term
        cluster.cut = [[n1, n3], [n3, n1]]
        cluster.tickAll(times: 10 * cluster.options.electionTicks)
        #expect(cluster[n1].role == .leader)
        #expect(cluster[n1].term == term)
        #expect(cluster[n2].leader == n1)
    }

    @Test("a leader handing over refuses membership changes as well as proposals until the transfer ends")
    func transferRefusesMembershipChanges() throws {
        var cluster = electedCluster()
        cluster.isolate(n2)
        try cluster.with(n1) { try $0.transferLeadership(to: n2) }
        #expect(throws: RaftError.self) { try cluster.with(n1) { _ = try $0.proposeConfigChange(.addLearner("n4")) } }
        cluster.tickAll(times: cluster.options.electionTicks)
        #expect(cluster[n1].role == .leader)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.addLearner("n4")) }
    }

    // MARK: Lease reads

    @Test("lease reads: a healthy leader answers at once, without a heartbeat round")
    func leaseReadAnswersAtOnce() throws {
        var cluster = electedCluster(options: leaseOptions)
        try cluster.with(n1) { _ = try $0.propose([1]) }
        cluster.tickAll(times: 2)
        cluster.with(n1) { $0.readIndex(context: 3) }
        #expect(servedReads(cluster, n1) == [cluster[n1].commitIndex])
    }

    @Test("lease reads: a leader that told a follower to campaign no longer reads from its lease")
    func leaseReadAfterHandOff() throws {
        var cluster = electedCluster(options: leaseOptions)
        try cluster.with(n1) { try $0.transferLeadership(to: n2) }  // n2 is caught up: TimeoutNow goes out now
        cluster.deliverAll(maxMessages: 1)
        cluster.isolate(n1)  // n1 hears nothing more; n3 votes for n2 although it just heard from n1
        cluster.deliverAll()
        #expect(cluster[n2].role == .leader)
        try cluster.with(n2) { _ = try $0.propose([9]) }
        cluster.deliverAll()
        #expect(cluster[n2].commitIndex > cluster[n1].commitIndex)
        #expect(cluster[n1].role == .leader)  // it does not know yet
        cluster.with(n1) { $0.readIndex(context: 4) }
        #expect(servedReads(cluster, n1).isEmpty, "n1 would answer with its stale commit index")
    }

    /// The leader checks its quorum once per election timeout, so a partitioned leader leads on
    /// for up to two timeouts after it last heard from a quorum, while the others may elect a
    /// new leader after one. Its lease is what a quorum acknowledged recently, not its role.
    @Test("lease reads: a partitioned leader no longer reads from its lease once the others can elect a new leader",
          arguments: 0..<5)
    func leaseReadAfterPartition(phase: Int) throws {
        var cluster = electedCluster(options: leaseOptions)
        cluster.tickAll(times: phase)  // where in n1's check-quorum period the partition starts
        cluster.isolate(n1)
        var newLeader: NodeID?
        for _ in 0..<(4 * cluster.options.electionTicks) where newLeader == nil {
            for id in cluster.ids { cluster.tick(id) }
            cluster.deliverAll()
            newLeader = [n2, n3].first { cluster[$0].role == .leader }
        }
        let elected = try #require(newLeader)
        try cluster.with(elected) { _ = try $0.propose([9]) }
        cluster.deliverAll()
        #expect(cluster[elected].commitIndex > cluster[n1].commitIndex)
        guard cluster[n1].role == .leader else { return }  // it noticed in time: nothing to read
        cluster.with(n1) { $0.readIndex(context: 2) }
        #expect(servedReads(cluster, n1).isEmpty, "n1 would answer with its stale commit index")
    }
}
