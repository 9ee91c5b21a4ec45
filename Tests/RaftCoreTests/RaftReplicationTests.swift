import DiscoCore
import RaftCore
import DiscoTestKit
import Testing

// MARK: - Replication and commit

@Suite("Raft replication")
struct RaftReplicationTests {
    let n1: NodeID = "n1", n2: NodeID = "n2", n3: NodeID = "n3"

    /// A node whose log holds `terms` (index 1 is the bootstrap config at term 1).
    func node(_ id: NodeID, terms: [UInt64], currentTerm: UInt64, options: RaftOptions = RaftOptions()) throws -> RaftNode {
        var state = PersistentState.bootstrap(voters: [n1, n2, n3])
        for (offset, term) in terms.enumerated() {
            state.entries.append(Entry(term: term, index: UInt64(offset + 2), data: [UInt8(offset)]))
        }
        state.hardState.term = currentTerm
        return try RaftNode(id: id, options: options, state: state, random: DeterministicRandom(seed: 1))
    }

    @Test("figure 8: a leader does not commit an entry of an earlier term by counting replicas")
    func figureEightCommitRule() throws {
        var leader = try node(n1, terms: [2], currentTerm: 3)
        leader.receive(Message(from: n2, to: n1, term: 4, body: .appendResponse(AppendResponse(accepted: false, index: 0))))
        // Make n1 leader of term 4 directly through a won election.
        leader.startElectionForTest()
        leader.receive(Message(from: n2, to: n1, term: leader.term, body: .voteResponse(granted: true)))
        #expect(leader.role == .leader)
        let noopIndex = leader.lastIndex  // 3, the leader's no-op
        leader.advance(leader.ready())  // persist locally
        // n2 has the old-term entry at index 2: a quorum holds it, but it must not commit yet.
        leader.receive(Message(from: n2, to: n1, term: leader.term, body: .appendResponse(AppendResponse(accepted: true, index: 2))))
        #expect(leader.commitIndex < 2)
        // Once an entry of the current term is on a quorum, it and everything before it commit.
        leader.receive(Message(from: n2, to: n1, term: leader.term, body: .appendResponse(AppendResponse(accepted: true, index: noopIndex))))
        #expect(leader.commitIndex == noopIndex)
    }

    @Test("a leader counts its own entries only once they are persisted")
    func leaderWaitsForOwnPersistence() throws {
        var leader = RaftNode.testNode(n1, voters: [n1])
        leader.campaign()
        #expect(leader.role == .leader)
        try leader.propose([1])
        #expect(leader.commitIndex < leader.lastIndex)
        let ready = leader.ready()
        #expect(ready.entries.map(\.index) == [2, 3])  // index 1 came from storage
        leader.advance(ready)
        #expect(leader.commitIndex == 3)
        #expect(leader.ready().committedEntries.map(\.index) == [1, 2, 3])
    }

    @Test("conflict back-off by term: a follower with a long divergent suffix is repaired in few round trips")
    func conflictBackOff() throws {
        // n3 has 40 entries of term 2 that were never committed; n1 and n2 moved on in term 3.
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.add(n1, state: try stateWith(terms: [3, 3, 3]))
        cluster.add(n2, state: try stateWith(terms: [3, 3, 3]))
        cluster.add(n3, state: try stateWith(terms: Array(repeating: 2, count: 40)))
        cluster.with(n1) { $0.startElectionForTest() }
        cluster.deliverAll()
        #expect(cluster[n1].role == .leader)
        #expect(cluster[n3].entries == cluster[n1].entries)
        let rejections = cluster.sent.filter {
            if case .appendResponse(let response) = $0.body { return $0.from == n3 && !response.accepted }
            return false
        }
        #expect(rejections.count <= 2)
    }

    func stateWith(terms: [UInt64]) throws -> PersistentState {
        var state = PersistentState.bootstrap(voters: [n1, n2, n3])
        for (offset, term) in terms.enumerated() {
            state.entries.append(Entry(term: term, index: UInt64(offset + 2), data: [UInt8(offset & 0xFF)]))
        }
        state.hardState.term = terms.max() ?? 1
        return state
    }

    @Test("batching and flow control bound what is in flight to a follower")
    func batchingAndFlowControl() throws {
        var options = RaftOptions()
        options.maxEntriesPerAppend = 4
        options.maxInflightAppends = 2
        var cluster = RaftTestCluster(voters: [n1, n2, n3], options: options)
        cluster.elect(n1)
        cluster.tickAll(times: 1)  // n3 acknowledges; its progress moves to pipelined replication
        let before = cluster.sent.count
        cluster.cut = [[n1, n3]]  // appends to n3 are lost
        for value in 0..<30 { try cluster.with(n1) { _ = try $0.propose([UInt8(value)]) } }
        let appendsToN3 = cluster.sent[before...].compactMap { message -> AppendRequest? in
            guard message.to == n3, case .append(let request) = message.body else { return nil }
            return request
        }
        #expect(appendsToN3.allSatisfy { $0.entries.count <= 4 })
        #expect(appendsToN3.count == 2)  // two in flight, then paused
        cluster.heal()
        cluster.tickAll(times: 10)
        #expect(cluster[n3].lastIndex == cluster[n1].lastIndex)
        #expect(cluster[n3].commitIndex == cluster[n1].commitIndex)
    }

    @Test("a follower that lost every in-flight append is caught up after the next heartbeats")
    func lostAppendsRecovered() throws {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        cluster.cut = [[n1, n2]]
        for value in 0..<5 { try cluster.with(n1) { _ = try $0.propose([UInt8(value)]) } }
        cluster.deliverAll()
        cluster.heal()
        cluster.tickAll(times: 3)
        #expect(cluster[n2].lastIndex == cluster[n1].lastIndex)
    }

    @Test("committed entries are applied in order on every node")
    func appliesEverywhere() throws {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        for value in 0..<10 { try cluster.with(n1) { _ = try $0.propose([UInt8(value)]) } }
        cluster.deliverAll()
        cluster.tickAll(times: 2)
        for id in cluster.ids {
            let data = (cluster.applied[id] ?? []).filter { $0.kind == .normal }.map(\.data)
            #expect(data == (0..<10).map { [UInt8($0)] })
        }
    }

    @Test("a follower whose log is behind knows the leader's commit index beyond its own (for /readyz?sync)")
    func followerLearnsTheLeadersCommitIndex() throws {
        var follower = try node(n2, terms: [], currentTerm: 2)
        let entries = [Entry(term: 2, index: 2, data: [1]), Entry(term: 2, index: 3, data: [2])]
        follower.receive(Message(from: n1, to: n2, term: 2, body: .append(AppendRequest(prevIndex: 1, prevTerm: 1, entries: entries, commit: 40))))
        #expect(follower.commitIndex == 3)  // it commits only what it holds
        #expect(follower.leaderCommitIndex == 40)
        // A heartbeat's commit is capped at the follower's match: the index it knew stays.
        follower.receive(Message(from: n1, to: n2, term: 2, body: .heartbeat(commit: 3, context: 0)))
        #expect(follower.leaderCommitIndex == 40)
        // A deposed leader's word counts for nothing.
        follower.receive(Message(from: n3, to: n2, term: 1, body: .append(AppendRequest(prevIndex: 3, prevTerm: 2, entries: [], commit: 90))))
        #expect(follower.leaderCommitIndex == 40)

        var leader = RaftNode.testNode(n1, voters: [n1])
        leader.campaign()
        try leader.propose([1])
        leader.advance(leader.ready())
        #expect(leader.leaderCommitIndex == leader.commitIndex)
    }

    @Test("a follower refuses proposals and names the leader")
    func followerRefusesProposals() {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        #expect(throws: RaftError.self) { try cluster.with(n2) { _ = try $0.propose([1]) } }
    }
}
