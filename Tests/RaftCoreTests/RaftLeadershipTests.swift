import DiscoCore
import DiscoRaft
import RaftCore
import DiscoTestKit
import Testing

// MARK: - Transfer, membership, snapshots, reads

@Suite("Raft leadership, membership, snapshots and reads")
struct RaftLeadershipTests {
    let n1: NodeID = "n1", n2: NodeID = "n2", n3: NodeID = "n3", n4: NodeID = "n4"

    func electedCluster() -> RaftTestCluster {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        cluster.tickAll(times: 1)
        return cluster
    }

    /// Cuts n3 off and has the leader n1 commit and apply `entries` proposals without it.
    func leaveN3Behind(_ cluster: inout RaftTestCluster, entries: Int) throws {
        cluster.isolate(n3)
        for value in 0..<entries { try cluster.with(n1) { _ = try $0.propose([UInt8(value)]) } }
        cluster.deliverAll()
        cluster.tickAll(times: 1)
    }

    /// A shell tells how long ago a follower heard from its leader by when this count last
    /// moved: each heartbeat counts; nothing does while the follower is cut off, however many
    /// ticks pass and campaigns it starts.
    @Test("leader contacts: counted per leader message, not while cut off")
    func leaderContactsCountOnlyTheLeadersMessages() {
        var cluster = electedCluster()
        let before = cluster[n3].leaderContacts
        cluster.tickAll(times: 1)
        cluster.deliverAll()
        #expect(cluster[n3].leaderContacts > before, "a heartbeat of the leader is a contact")
        cluster.isolate(n3)
        let cutOff = cluster[n3].leaderContacts
        for _ in 0..<30 {
            cluster.tickAll(times: 1)
            cluster.deliverAll()
        }
        #expect(cluster[n3].leaderContacts == cutOff, "nothing reached the cut-off follower from a leader")
        #expect(cluster[n1].role == .leader)
        cluster.heal()
        cluster.tickAll(times: 1)
        cluster.deliverAll()
        #expect(cluster[n3].leaderContacts > cutOff, "the leader's next heartbeat reaches it again")
    }

    @Test("leadership transfer: the target gets TimeoutNow and wins the next term")
    func leadershipTransfer() throws {
        var cluster = electedCluster()
        let term = cluster[n1].term
        try cluster.with(n1) { try $0.transferLeadership(to: n2) }
        #expect(throws: RaftError.self) { try cluster.with(n1) { _ = try $0.propose([1]) } }
        cluster.deliverAll()
        #expect(cluster.sent.contains { $0.body == .timeoutNow && $0.to == n2 })
        #expect(cluster[n2].role == .leader)
        #expect(cluster[n2].term == term + 1)
        #expect(cluster[n1].role == .follower)
    }

    @Test("leadership transfer to a lagging follower catches it up first")
    func transferToLaggingFollower() throws {
        var cluster = electedCluster()
        cluster.isolate(n3)
        for value in 0..<5 { try cluster.with(n1) { _ = try $0.propose([UInt8(value)]) } }
        cluster.deliverAll()
        cluster.heal()
        try cluster.with(n1) { try $0.transferLeadership(to: n3) }
        cluster.deliverAll()
        cluster.tickAll(times: 2)
        #expect(cluster[n3].role == .leader)
    }

    @Test("membership: add a learner, promote it, remove the leader")
    func membershipChanges() throws {
        var cluster = electedCluster()
        cluster.add(n4)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.addLearner(n4)) }
        // Only one change may be pending at a time.
        #expect(throws: RaftError.self) { try cluster.with(n1) { _ = try $0.proposeConfigChange(.promote(n4)) } }
        cluster.deliverAll()
        cluster.tickAll(times: 2)
        #expect(cluster[n4].config.learners == [n4])
        #expect(cluster[n4].lastIndex == cluster[n1].lastIndex)
        #expect(!cluster[n4].isPromotable)

        try cluster.with(n1) { _ = try $0.proposeConfigChange(.promote(n4)) }
        cluster.deliverAll()
        cluster.tickAll(times: 2)
        for id in cluster.ids { #expect(cluster[id].config.voters == [n1, n2, n3, n4]) }

        try cluster.with(n1) { _ = try $0.proposeConfigChange(.remove(n1)) }
        cluster.deliverAll()
        cluster.tickAll(times: 2)
        #expect(cluster[n1].role == .follower)  // stepped down once its removal committed
        #expect(!cluster[n1].isPromotable)
        cluster.tickAll(times: 4 * cluster.options.electionTicks)
        let leaders = cluster.leaders
        #expect(leaders.count == 1)
        #expect(leaders.first != n1)
        #expect(cluster[n2].config.voters == [n2, n3, n4])
    }

    @Test("membership: an invalid change is refused with a reason")
    func invalidMembershipChange() {
        var cluster = electedCluster()
        #expect(throws: RaftError.self) { try cluster.with(n1) { _ = try $0.proposeConfigChange(.addVoter(n2)) } }
        #expect(throws: RaftError.self) { try cluster.with(n1) { _ = try $0.proposeConfigChange(.promote(n3)) } }
        #expect(throws: RaftError.self) { try cluster.with(n1) { _ = try $0.proposeConfigChange(.remove(n4)) } }
    }

    @Test("a config entry takes effect when appended and is reverted when truncated")
    func configTakesEffectOnAppend() throws {
        var cluster = electedCluster()
        cluster.isolate(n1)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.addLearner(n4)) }
        #expect(cluster[n1].config.learners == [n4])  // in effect before commit
        cluster.tickAll(times: 6 * cluster.options.electionTicks)  // n2 or n3 takes over
        cluster.heal()
        cluster.tickAll(times: 4 * cluster.options.electionTicks)
        #expect(cluster[n1].config.voters == [n1, n2, n3])  // the uncommitted entry was replaced
        #expect(cluster[n1].config.learners.isEmpty)
    }

    @Test("snapshot install: a follower behind the leader's first index receives the snapshot")
    func snapshotInstall() throws {
        var cluster = electedCluster()
        try leaveN3Behind(&cluster, entries: 20)
        let applied = cluster[n1].appliedIndex
        let snapshot = try cluster.compact(n1, through: applied, data: [0xAB])
        #expect(snapshot.metadata.config.voters == [n1, n2, n3])
        #expect(cluster[n1].firstIndex == applied + 1)
        cluster.heal()
        cluster.tickAll(times: 3)
        #expect(cluster.installedSnapshots[n3]?.last?.metadata.index == applied)
        #expect(cluster.installedSnapshots[n3]?.last?.data == [0xAB])
        #expect(cluster[n3].lastIndex == cluster[n1].lastIndex)
        #expect(cluster[n3].commitIndex == cluster[n1].commitIndex)
    }

    @Test("a restarted leader sends the snapshot it recovered from storage")
    func recoveredSnapshotIsSent() throws {
        var cluster = electedCluster()
        try leaveN3Behind(&cluster, entries: 10)
        let applied = cluster[n1].appliedIndex
        try cluster.compact(n1, through: applied, data: [0xCD])
        cluster.restart(n1)  // from storage: the snapshot's metadata, its data stays there
        cluster.with(n1) { $0.startElectionForTest() }  // n2 still follows the old n1: skip its lease
        cluster.deliverAll()
        cluster.heal()
        cluster.tickAll(times: 4)
        #expect(cluster[n1].role == .leader)
        #expect(cluster.installedSnapshots[n3]?.last?.data == [0xCD])
        #expect(cluster[n3].lastIndex == cluster[n1].lastIndex)
    }

    @Test("a leader names the snapshot to send and the shell sends what storage holds, with that snapshot's metadata")
    func storedSnapshotIsSentWithItsOwnMetadata() throws {
        var cluster = electedCluster()
        try leaveN3Behind(&cluster, entries: 10)
        let named = try cluster.compact(n1, through: cluster[n1].appliedIndex, data: [0xA1])
        #expect(cluster[n1].snapshotMetadata == named.metadata)  // the core keeps the metadata, not the data
        for value in 0..<10 { try cluster.with(n1) { _ = try $0.propose([UInt8(value)]) } }
        cluster.deliverAll()
        cluster.tickAll(times: 1)
        // A newer snapshot replaces the one the core named, in storage only (as one taken between
        // the core's decision and the shell's read would).
        let newer = try #require(cluster[n1].appliedIndex > named.metadata.index ? cluster[n1].appliedIndex : nil)
        let stored = Snapshot(metadata: SnapshotMetadata(index: newer, term: try #require(cluster[n1].term(at: newer)),
                                                         config: cluster[n1].config), data: [0xB2])
        var store = try #require(cluster.storage[n1])
        try store.saveSnapshot(stored)
        cluster.replaceStorage(n1, with: store)
        cluster.heal()
        cluster.tickAll(times: 4)
        #expect(cluster.sent.contains { $0.to == n3 && $0.body == .installSnapshot(stored) })
        #expect(cluster.installedSnapshots[n3] == [stored])  // not the data of the one named, under its metadata
        #expect(cluster[n1].matchIndex(of: n3) == cluster[n1].lastIndex)
        #expect(cluster[n3].lastIndex == cluster[n1].lastIndex)
        #expect(cluster[n3].commitIndex == cluster[n1].commitIndex)
    }

    @Test("ReadIndex: the leader answers after a quorum confirms it still leads")
    func readIndex() throws {
        var cluster = electedCluster()
        try cluster.with(n1) { _ = try $0.propose([7]) }
        cluster.deliverAll()
        let commit = cluster[n1].commitIndex
        cluster.with(n1) { $0.readIndex(context: 42) }
        #expect(cluster.readStates[n1, default: []].isEmpty)  // not before the heartbeat round
        cluster.deliverAll()
        #expect(cluster.readStates[n1] == [ReadState(context: 42, outcome: .ready(index: commit))])
    }

    @Test("ReadIndex: a partitioned leader cannot serve reads; a follower redirects")
    func readIndexNeedsQuorum() {
        var cluster = electedCluster()
        cluster.isolate(n1)
        cluster.with(n1) { $0.readIndex(context: 1) }
        cluster.deliverAll()
        #expect(cluster.readStates[n1, default: []].isEmpty)
        cluster.tick(n1, times: 2 * cluster.options.electionTicks)  // check-quorum: steps down
        #expect(cluster.readStates[n1] == [ReadState(context: 1, outcome: .notLeader(leader: nil))])
        cluster.with(n2) { $0.readIndex(context: 2) }
        #expect(cluster.readStates[n2] == [ReadState(context: 2, outcome: .notLeader(leader: n1))])
    }

    @Test("restart recovers the log, term and vote from storage")
    func restartRecovers() throws {
        var cluster = electedCluster()
        for value in 0..<3 { try cluster.with(n1) { _ = try $0.propose([UInt8(value)]) } }
        cluster.deliverAll()
        let before = cluster[n2]
        cluster.restart(n2)
        #expect(cluster[n2].term == before.term)
        #expect(cluster[n2].entries == before.entries)
        #expect(cluster[n2].role == .follower)
    }
}
