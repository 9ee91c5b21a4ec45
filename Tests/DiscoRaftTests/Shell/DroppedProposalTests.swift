import DiscoCore
@testable import DiscoRaft
import DiscoTestKit
import Testing

// MARK: - A proposal whose index a newer leader reused

/// A leader's uncommitted proposal is truncated by a newer leader's entries, and before the
/// driver's next turn the node leads again and proposes at that same index: the old proposer must
/// learn its entry was dropped (not leadership-lost, not shutting down, and never the index of
/// someone else's entry).
///
/// The peers are played by hand: only `n1` runs, its address book knows no peer (everything it
/// sends is lost, as in a partition), and the test hands its driver the messages `n2` would send.
/// The events that must meet in one turn of the driver are queued while it is held inside the
/// state machine (applying the entry "gate"), so they arrive together, deterministically.
///
/// (The other `.dropped` answer, in `apply`, needs a committed entry of another term at a tracked
/// index in the same Ready as the leadership change; the core releases committed entries only
/// once persisted, so the change is always seen first and fails the proposal as leadership-lost.)
@Suite("RaftNodeShell: a proposal replaced by a newer leader's entry", .serialized)
struct DroppedProposalTests {
    @Test("the proposer of an entry truncated by a newer leader gets dropped when its index is proposed again")
    func reusedIndexDropsTheOldProposal() async throws {
        var raft = RaftOptions()
        // No pre-vote and no quorum checks: the isolated node campaigns and leads on the votes the
        // test gives it, and never steps down on its own while the test plays its peers.
        raft.preVote = false
        raft.checkQuorum = false
        raft.electionTicks = 1_000
        let cluster = ShellCluster(voters: ["n1", "n2", "n3"], raft: raft)
        let shell = try await cluster.start("n1")
        cluster.addresses.set("n1", nil)
        let stateMachine = try #require(cluster.stateMachine("n1"))
        func deliver(_ term: UInt64, _ body: MessageBody) {
            shell.inbox.push(.message(Message(from: "n2", to: "n1", term: term, body: body)), force: true)
        }

        // n1 campaigns; n2's vote makes it leader (it appends its no-op entry).
        shell.campaign()
        try await waitUntil("n1 to campaign") { shell.status.role == .candidate }
        let leaderTerm = shell.status.term
        deliver(leaderTerm, .voteResponse(granted: true))
        try await waitUntil("n1 to lead term \(leaderTerm)") { shell.status.isLeader }
        let base = shell.status.lastIndex

        // Four proposals it cannot replicate: "gate", two fillers and "lost".
        var proposals: [Task<UInt64, any Error>] = []
        for text in ["gate", "filler-1", "filler-2", "lost"] {
            proposals.append(Task { try await shell.propose(Array(text.utf8)) })
            let expected = base + UInt64(proposals.count)
            try await waitUntil("\(text) to be appended at \(expected)") { shell.status.lastIndex == expected }
        }
        let gateIndex = base + 1, lostIndex = base + 4

        // n2 acknowledges the gate only: it commits, and applying it holds the driver.
        deliver(leaderTerm, .appendResponse(AppendResponse(accepted: true, index: gateIndex)))
        try await waitUntil("the driver to be held applying the gate") { stateMachine.isBlockedAtGate }

        // Queued together for the driver's next turn: n2, leader of a newer term, replaces
        // everything after the gate with one entry of its own (the log shrinks by two); n1
        // campaigns again and wins (its new no-op comes next), and a new proposal lands at the
        // index "lost" had.
        let newTerm = leaderTerm + 1
        let replacement = Entry(term: newTerm, index: gateIndex + 1, data: Array("won".utf8))
        deliver(newTerm, .append(AppendRequest(prevIndex: gateIndex, prevTerm: leaderTerm, entries: [replacement], commit: gateIndex)))
        shell.campaign()
        deliver(newTerm + 1, .voteResponse(granted: true))
        let again = Task { try await shell.propose(Array("again".utf8)) }
        try await waitUntil("the four events to be queued") {
            shell.inbox.count { if case .tick = $0 { false } else { true } } == 4
        }
        stateMachine.openGate()

        let lost = proposals[3]
        let result = try await outcome(of: "the proposal of \"lost\" to be answered", within: .seconds(30)) {
            try await lost.value
        }
        let error = try #require(result.failure as? RaftShellError, "\(result)")
        #expect(error.code == .dropped, "\(error)")
        #expect(error.message == "leadership changed, entry \(lostIndex) was not committed (a new leader replaced it)", "\(error)")
        #expect(try await proposals[0].value == gateIndex)
        // The fillers were truncated too; they are failed as the proposals of a lost leadership.
        for filler in proposals[1...2] {
            let answer = try await outcome(of: "a filler to be answered") { try await filler.value }
            #expect((answer.failure as? RaftShellError)?.code == .leadershipLost, "\(answer)")
        }
        #expect(shell.status.isLeader && shell.status.term == newTerm + 1, "\(shell.status)")
        #expect(shell.status.lastIndex == lostIndex, "\"again\" is the last entry, at the index \"lost\" had")
        #expect(!stateMachine.texts.contains("lost"))
        again.cancel()
        _ = await again.result
        await cluster.shutdownAll()
    }
}
