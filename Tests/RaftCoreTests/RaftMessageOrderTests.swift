import DiscoCore
import RaftCore
import DiscoTestKit
import Testing

// MARK: - Stale, duplicate, reordered and malformed messages

/// Scripted message sequences against single cores: what a follower does with appends and
/// snapshots that arrive late, twice or out of order, and what a leader does with answers that do.
@Suite("Raft stale and reordered messages")
struct RaftMessageOrderTests {
    let n1: NodeID = "n1", n2: NodeID = "n2", n3: NodeID = "n3"

    /// Follower n2 at `term` whose log is the bootstrap entry then one entry per element of
    /// `terms` (from index 2), committed through `commit`, with its start-up Ready handled.
    func follower(terms: [UInt64], term: UInt64, commit: UInt64 = 1) throws -> RaftNode {
        var state = PersistentState.bootstrap(voters: [n1, n2, n3])
        for (offset, entryTerm) in terms.enumerated() {
            state.entries.append(Entry(term: entryTerm, index: UInt64(offset + 2), data: [UInt8(offset)]))
        }
        state.hardState.term = term
        state.hardState.commit = commit
        var node = try RaftNode(id: n2, state: state, random: DeterministicRandom(seed: 1))
        node.advance(node.ready())
        return node
    }

    /// Leader n1 of term 2 over n1, n2, n3: the bootstrap entry, `earlier` entries of term 1, its
    /// no-op, then `proposals` entries, all persisted locally and none acknowledged by the
    /// followers yet (their progress probes from the no-op).
    func leader(earlier: Int = 0, proposals: Int) throws -> RaftNode {
        var state = PersistentState.bootstrap(voters: [n1, n2, n3])
        for offset in 0..<earlier { state.entries.append(Entry(term: 1, index: UInt64(offset + 2), data: [UInt8(offset)])) }
        var node = try RaftNode(id: n1, state: state, random: DeterministicRandom(seed: 1))
        node.startElectionForTest()
        node.receive(Message(from: n2, to: n1, term: node.term, body: .voteResponse(granted: true)))
        #expect(node.role == .leader)
        for value in 0..<proposals { try node.propose([UInt8(value)]) }
        node.advance(node.ready())
        return node
    }

    /// Takes and acknowledges the node's Ready.
    func take(_ node: inout RaftNode) -> Ready {
        let ready = node.ready()
        node.advance(ready)
        return ready
    }

    func append(prev: UInt64, _ prevTerm: UInt64, _ entries: [(index: UInt64, term: UInt64)], commit: UInt64 = 0,
                term: UInt64 = 2) -> Message {
        let request = AppendRequest(prevIndex: prev, prevTerm: prevTerm,
                                    entries: entries.map { Entry(term: $0.term, index: $0.index, data: [9]) }, commit: commit)
        return Message(from: n1, to: n2, term: term, body: .append(request))
    }

    func answers(_ ready: Ready, to peer: NodeID) -> [AppendResponse] {
        ready.messages.compactMap { message in
            guard message.to == peer, case .appendResponse(let response) = message.body else { return nil }
            return response
        }
    }

    func appends(_ ready: Ready, to peer: NodeID) -> [AppendRequest] {
        ready.messages.compactMap { message in
            guard message.to == peer, case .append(let request) = message.body else { return nil }
            return request
        }
    }

    // MARK: Follower: appends

    @Test("a late append that is a prefix of the follower's log keeps the entries after it")
    func lateAppendKeepsTheSuffix() throws {
        var node = try follower(terms: [2, 2, 2, 2], term: 2)
        node.receive(append(prev: 2, 2, [(3, 2)]))
        #expect(node.lastIndex == 5)
        #expect((2...5).allSatisfy { node.term(at: $0) == 2 })
        #expect(answers(take(&node), to: n1) == [AppendResponse(accepted: true, index: 3)])
    }

    @Test("entries at or below the commit index are never replaced, whatever an append carries")
    func committedEntriesAreNeverReplaced() throws {
        var node = try follower(terms: [2, 2, 2], term: 3, commit: 3)
        // An append whose entries 2 and 3 disagree with the committed ones: only what follows
        // the commit index is taken from it.
        node.receive(append(prev: 1, 1, [(2, 3), (3, 3), (4, 3)], term: 3))
        #expect(node.term(at: 2) == 2)
        #expect(node.term(at: 3) == 2)
        #expect(node.term(at: 4) == 3)
        #expect(node.lastIndex == 4)
        #expect(node.commitIndex == 3)
    }

    @Test("an append whose entries do not follow one another is dropped whole, not appended",
          arguments: [[2, 4], [2, 3, 3], [2, 3, 9]] as [[UInt64]])
    func nonConsecutiveEntriesAreDropped(indices: [UInt64]) throws {
        var node = try follower(terms: [], term: 2)
        node.receive(append(prev: 1, 1, indices.map { (index: $0, term: 2) }, commit: 1))
        #expect(node.lastIndex == 1)
        #expect(node.entries.map(\.index) == [1])
        #expect(answers(take(&node), to: n1).allSatisfy { !$0.accepted })
    }

    // MARK: Follower: snapshots

    func snapshot(index: UInt64, term: UInt64) -> Message {
        let metadata = SnapshotMetadata(index: index, term: term, config: ClusterConfig(voters: [n1, n2, n3]))
        return Message(from: n1, to: n2, term: 3, body: .installSnapshot(Snapshot(metadata: metadata, data: [UInt8(index)])))
    }

    @Test("an older snapshot arriving after a newer one is acknowledged at the newer point, not installed")
    func olderSnapshotAfterNewerOne() throws {
        var node = try follower(terms: [], term: 3)
        node.receive(snapshot(index: 10, term: 3))
        #expect(take(&node).snapshot?.metadata.index == 10)
        node.receive(snapshot(index: 6, term: 2))
        let second = take(&node)
        #expect(second.snapshot == nil)
        #expect(node.snapshotIndex == 10)
        #expect(node.commitIndex == 10)
        #expect(answers(second, to: n1) == [AppendResponse(accepted: true, index: 10)])
    }

    @Test("a snapshot ending at an entry the follower holds (same term) commits it and keeps the entries after it")
    func snapshotOverHeldEntriesKeepsTheSuffix() throws {
        var node = try follower(terms: [2, 2, 3, 3, 3], term: 3)
        node.receive(snapshot(index: 4, term: 3))
        let ready = take(&node)
        #expect(ready.snapshot == nil)
        #expect(node.lastIndex == 6)
        #expect(node.commitIndex == 4)
        #expect(node.snapshotIndex == 0)
        #expect(answers(ready, to: n1) == [AppendResponse(accepted: true, index: 4)])
    }

    @Test("a snapshot ending where the follower holds another term replaces the whole log")
    func snapshotOverDivergentEntriesReplacesTheLog() throws {
        var node = try follower(terms: [2, 2, 2, 2, 2], term: 3)
        node.receive(snapshot(index: 4, term: 3))
        let ready = take(&node)
        #expect(ready.snapshot?.metadata.index == 4)
        #expect(node.lastIndex == 4)
        #expect(node.entries.isEmpty)
    }

    // MARK: Leader: answers

    @Test("a late acknowledgement below the match index moves neither match nor next back")
    func lateAcknowledgementIsHarmless() throws {
        var node = try leader(proposals: 3)
        let last = node.lastIndex
        node.receive(Message(from: n2, to: n1, term: node.term, body: .appendResponse(AppendResponse(accepted: true, index: last))))
        #expect(node.matchIndex(of: n2) == last)
        _ = take(&node)
        node.receive(Message(from: n2, to: n1, term: node.term, body: .appendResponse(AppendResponse(accepted: true, index: 2))))
        #expect(node.matchIndex(of: n2) == last)
        #expect(appends(take(&node), to: n2).isEmpty)  // nothing is sent again from below the match
        try node.propose([42])
        #expect(appends(take(&node), to: n2).map(\.prevIndex) == [last])
    }

    @Test("a late rejection at or below the match index leaves a replicating follower alone")
    func lateRejectionIsIgnored() throws {
        var node = try leader(proposals: 3)
        let last = node.lastIndex
        node.receive(Message(from: n2, to: n1, term: node.term, body: .appendResponse(AppendResponse(accepted: true, index: last))))
        _ = take(&node)
        node.receive(Message(from: n2, to: n1, term: node.term,
                             body: .appendResponse(AppendResponse(accepted: false, index: 2, conflictTerm: 0, conflictIndex: 2))))
        #expect(node.matchIndex(of: n2) == last)
        #expect(appends(take(&node), to: n2).isEmpty)
        try node.propose([42])
        #expect(appends(take(&node), to: n2).map(\.prevIndex) == [last])  // still pipelined from the match
    }

    @Test("a duplicated rejection while probing does not move next back twice")
    func duplicateRejectionWhileProbing() throws {
        // The probe to n3 follows index 4 (the last entry of term 1); n3 holds only index 1 and 2.
        var node = try leader(earlier: 3, proposals: 3)
        let last = node.lastIndex
        let rejection = Message(from: n3, to: n1, term: node.term,
                                body: .appendResponse(AppendResponse(accepted: false, index: 4, conflictTerm: 0, conflictIndex: 3)))
        node.receive(rejection)
        #expect(appends(take(&node), to: n3).map(\.prevIndex) == [2])
        node.receive(rejection)
        #expect(appends(take(&node), to: n3).isEmpty)
        // The answer to the probe at 2 resumes replication from there.
        node.receive(Message(from: n3, to: n1, term: node.term, body: .appendResponse(AppendResponse(accepted: true, index: last))))
        #expect(node.matchIndex(of: n3) == last)
    }
}
