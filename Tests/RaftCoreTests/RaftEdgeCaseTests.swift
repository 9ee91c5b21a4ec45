import DiscoCore
import RaftCore
import DiscoTestKit
import Testing

// MARK: - Edge cases

@Suite("Raft edge cases")
struct RaftEdgeCaseTests {
    let n1: NodeID = "n1", n2: NodeID = "n2", n3: NodeID = "n3", n4: NodeID = "n4"

    @Test("a transfer to an unreachable target is abandoned after an election timeout")
    func transferTimesOut() throws {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        cluster.isolate(n2)
        try cluster.with(n1) { try $0.transferLeadership(to: n2) }
        #expect(throws: RaftError.self) { try cluster.with(n1) { _ = try $0.propose([1]) } }
        for _ in 0..<cluster.options.electionTicks {
            cluster.tick(n1)
            cluster.tick(n3)
            cluster.deliverAll()
        }
        #expect(cluster[n1].role == .leader)
        try cluster.with(n1) { _ = try $0.propose([2]) }
    }

    @Test("a learner never campaigns and does not count toward commit")
    func learnerDoesNotVoteOrCampaign() throws {
        var cluster = RaftTestCluster(voters: [n1, n2])
        cluster.elect(n1)
        cluster.add(n3)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.addLearner(n3)) }
        cluster.deliverAll()
        cluster.tickAll(times: 2)
        #expect(cluster[n3].config.learners == [n3])
        cluster.isolate(n2)
        let commit = cluster[n1].commitIndex
        try cluster.with(n1) { _ = try $0.propose([7]) }
        cluster.deliverAll()
        #expect(cluster[n3].lastIndex == cluster[n1].lastIndex)  // replicated to the learner
        #expect(cluster[n1].commitIndex == commit)  // but leader + learner are not a quorum
        cluster.heal()
        cluster.isolate(n1)
        cluster.tick(n3, times: 10 * cluster.options.electionTicks)
        #expect(cluster[n3].role == .follower)
    }

    @Test("the application is asked for a snapshot once the threshold is reached")
    func snapshotSuggested() throws {
        var options = RaftOptions()
        options.snapshotThreshold = 5
        var node = try RaftNode(id: n1, options: options, state: .bootstrap(voters: [n1]), random: DeterministicRandom(seed: 3))
        node.campaign()
        var suggested = false
        for value in 0..<6 {
            try node.propose([UInt8(value)])
            while node.hasReady {
                let ready = node.ready()
                suggested = suggested || ready.shouldSnapshot
                node.advance(ready)
            }
        }
        #expect(suggested)
        let snapshot = try node.compact(through: node.appliedIndex, data: [1])
        #expect(snapshot.metadata.index == node.appliedIndex)
        #expect(node.firstIndex == node.appliedIndex + 1)
        #expect(throws: RaftError.self) { try node.compact(through: node.appliedIndex + 5, data: []) }
    }

    @Test("compacting without the data gives the metadata (index, term, configuration there) and drops the log")
    func compactTakesNoData() throws {
        var node = try RaftNode(id: n1, options: RaftOptions(), state: .bootstrap(voters: [n1]), random: DeterministicRandom(seed: 4))
        node.campaign()
        for value in 0..<4 {
            try node.propose([UInt8(value)])
            while node.hasReady { node.advance(node.ready()) }
        }
        let applied = node.appliedIndex
        let metadata: SnapshotMetadata = try node.compact(through: applied - 1)
        #expect(metadata == SnapshotMetadata(index: applied - 1, term: node.term, config: ClusterConfig(voters: [n1])))
        #expect(node.snapshotIndex == applied - 1)
        #expect(node.firstIndex == applied)
        #expect(throws: RaftError.self) { try node.compact(through: applied - 1) }
        // The form with data gives the same metadata.
        let snapshot = try node.compact(through: applied, data: [7])
        #expect(snapshot.metadata.index == applied && snapshot.metadata.config == metadata.config && snapshot.data == [7])
    }

    @Test("large entries ask for a snapshot once their bytes reach the size threshold, long before the count")
    func snapshotSuggestedBySize() throws {
        var options = RaftOptions()
        options.snapshotThreshold = 8192
        options.snapshotThresholdBytes = 10_000
        var node = try RaftNode(id: n1, options: options, state: .bootstrap(voters: [n1]), random: DeterministicRandom(seed: 3))
        node.campaign()
        var suggestedAt: [UInt64] = []
        for value in 0..<25 {
            try node.propose([UInt8](repeating: UInt8(value), count: 1000))
            while node.hasReady {
                let ready = node.ready()
                node.advance(ready)
                if ready.shouldSnapshot {
                    suggestedAt.append(node.appliedIndex)
                    _ = try node.compact(through: node.appliedIndex, data: [1])
                }
            }
        }
        // 1024 bytes an entry: the tenth applied after each snapshot reaches 10,000 bytes. The
        // log then holds nothing applied (the held entries start after the snapshot).
        #expect(suggestedAt.count == 2, "\(suggestedAt)")
        #expect(zip(suggestedAt, suggestedAt.dropFirst()).allSatisfy { $1 - $0 == 10 }, "\(suggestedAt)")
        #expect(node.firstIndex == (suggestedAt.last ?? 0) + 1)
    }

    @Test("a new leader defers ReadIndex until it has committed an entry of its term")
    func readIndexWaitsForFirstCommit() throws {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.with(n1) { $0.startElectionForTest() }
        cluster.deliverAll(maxMessages: 4)  // vote requests and responses: n1 leads
        #expect(cluster[n1].role == .leader)
        cluster.inFlight = []  // lose the no-op appends
        cluster.with(n1) { $0.readIndex(context: 5) }
        cluster.deliverAll()
        #expect(cluster.readStates[n1, default: []].isEmpty)
        cluster.tickAll(times: 3)  // heartbeats retry the append; the no-op commits
        #expect(cluster.readStates[n1, default: []].map(\.context) == [5])
    }

    @Test("the options are validated with a clear reason")
    func optionsValidated() {
        var options = RaftOptions()
        options.electionTicks = 1
        #expect(throws: RaftError.self) { try options.validate() }
        options = RaftOptions()
        options.leaseReads = true
        options.checkQuorum = false
        #expect(throws: RaftError.self) { try options.validate() }
        #expect(throws: Never.self) { try RaftOptions().validate() }
    }

    @Test("messages for another node or from itself are ignored")
    func misaddressedMessages() {
        var node = RaftNode.testNode(n1, voters: [n1, n2, n3])
        node.advance(node.ready())
        node.receive(Message(from: n2, to: n3, term: 9, body: .timeoutNow))
        node.receive(Message(from: n1, to: n1, term: 9, body: .timeoutNow))
        #expect(node.term == 1)
        #expect(!node.hasReady)
    }

    @Test("empty nodes vote for a candidate bootstrapped alone, with and without pre-vote, and take its configuration",
          arguments: [true, false])
    func emptyNodesElectTheBootstrappedNode(preVote: Bool) throws {
        var options = RaftOptions()
        options.preVote = preVote
        var cluster = RaftTestCluster(voters: [], options: options)
        cluster.add(n1, state: .bootstrap(voters: [n1, n2, n3]))
        cluster.add(n2)
        cluster.add(n3)
        cluster.isolate(n3)  // the quorum needs the one empty node still reachable
        cluster.elect(n1)
        #expect(cluster.leaders == [n1])
        #expect(cluster[n2].vote == n1)
        try cluster.with(n1) { _ = try $0.propose([5]) }
        cluster.deliverAll()
        cluster.tickAll(times: 2)
        #expect(cluster[n2].config.voters == [n1, n2, n3])
        #expect(cluster[n2].commitIndex == cluster[n1].commitIndex)
        #expect(cluster[n3].config.voters.isEmpty)
        cluster.heal()
        cluster.tickAll(times: 2)
        #expect(cluster[n3].config.voters == [n1, n2, n3])
    }
}
