import DiscoCore
@testable import DiscoRaft
import DiscoTestKit
import Testing

// MARK: - No request outlives its cause

/// A leader that loses its quorum must not keep callers waiting: its pending proposals fail when
/// it steps down, every request fails at shutdown, and a caller that is cancelled stops waiting
/// at once. Each call runs under ``outcome(of:within:_:)``, so a request that would hang fails
/// the test at its deadline instead.
@Suite("RaftNodeShell: requests fail instead of hanging", .serialized)
struct RequestLivenessTests {
    let ids: [NodeID] = ["n1", "n2"]

    /// A two-voter cluster whose follower has stopped: its leader can never commit again.
    private func leaderWithoutQuorum(checkQuorum: Bool) async throws -> (ShellCluster, RaftNodeShell) {
        var raft = RaftOptions()
        raft.checkQuorum = checkQuorum
        // Five seconds and more before a leader that hears nothing steps down: a proposal made
        // right after the follower stops reaches the log while the leader still leads.
        raft.electionTicks = 50
        let cluster = try await ShellCluster.start(ids, raft: raft)
        // With so long a timeout, two voters that campaign together would wait seconds to retry.
        cluster.shell(ids[0])?.campaign()
        let leader = try await cluster.waitForLeader()
        let follower = try #require(ids.first { $0 != leader.id })
        await cluster.stop(follower)
        return (cluster, leader)
    }

    @Test("a proposal waiting when the leader loses its quorum and steps down fails with leadership-lost")
    func stepDownFailsPendingProposals() async throws {
        let (cluster, leader) = try await leaderWithoutQuorum(checkQuorum: true)
        defer { Task { await cluster.shutdownAll() } }
        // Proposed at once: the leader still leads (it steps down only after an election timeout
        // without hearing from its follower), so the entry is appended but cannot commit.
        let result = try await outcome(of: "the proposal to be answered", within: .seconds(60)) {
            try await leader.propose(Array("orphan".utf8))
        }
        let error = try #require(result.failure as? RaftShellError, "\(result)")
        #expect(error.code == .leadershipLost, "\(error)")
        #expect(error.message.contains("stopped leading before entry"), "\(error)")
        #expect(!leader.status.isLeader)
        // A read on the deposed leader is refused, not parked.
        let read = try await outcome(of: "the read to be answered") { try await leader.readIndex() }
        #expect((read.failure as? RaftShellError)?.code == .notLeader, "\(read)")
        await cluster.shutdownAll()
    }

    @Test("a caller cancelled while its proposal or read waits is answered at once with cancelled")
    func cancellationEndsTheWait() async throws {
        // Without check-quorum the leader keeps leading alone: nothing else would ever answer.
        let (cluster, leader) = try await leaderWithoutQuorum(checkQuorum: false)
        defer { Task { await cluster.shutdownAll() } }
        let lastIndex = leader.status.lastIndex
        let proposal = Task { try await leader.propose(Array("never-committed".utf8)) }
        let read = Task { try await leader.readIndex() }
        try await waitUntil("the proposal to reach the leader's log") { leader.status.lastIndex > lastIndex }
        proposal.cancel()
        read.cancel()
        let proposed = try await outcome(of: "the cancelled proposal to return") { try await proposal.value }
        let proposalError = try #require(proposed.failure as? RaftShellError, "\(proposed)")
        #expect(proposalError.code == .cancelled)
        #expect(proposalError.message.contains("may still be committed"), "\(proposalError)")
        let readOutcome = try await outcome(of: "the cancelled read to return") { try await read.value }
        #expect((readOutcome.failure as? RaftShellError)?.code == .cancelled, "\(readOutcome)")
        #expect(leader.status.isLeader)  // alone, without check-quorum, it leads on
        await cluster.shutdownAll()
    }

    @Test("a caller cancelled before it asks is answered with cancelled and nothing is proposed")
    func cancelledBeforeAsking() async throws {
        let cluster = try await ShellCluster.start(["solo"])
        defer { Task { await cluster.shutdownAll() } }
        let leader = try await cluster.waitForLeader()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await leader.propose(Array("too-late".utf8))
        }
        let result = try await outcome(of: "the cancelled caller to return") { try await task.value }
        #expect((result.failure as? RaftShellError)?.code == .cancelled, "\(result)")
        // Had it been proposed, it would be applied before a later proposal: it never entered the log.
        _ = try await leader.propose(Array("after".utf8))
        let texts = try #require(cluster.stateMachine("solo")?.texts)
        #expect(texts.last == "after" && !texts.contains("too-late"), "\(texts)")
        await cluster.shutdownAll()
    }

    @Test("requests waiting on a leader without a quorum fail with shut-down when it stops")
    func shutdownFailsWaitingRequests() async throws {
        let (cluster, leader) = try await leaderWithoutQuorum(checkQuorum: false)
        defer { Task { await cluster.shutdownAll() } }
        let lastIndex = leader.status.lastIndex
        let proposal = Task { try await leader.propose(Array("pending-at-stop".utf8)) }
        try await waitUntil("the proposal to reach the leader's log") { leader.status.lastIndex > lastIndex }
        let stop = try await outcome(of: "the leader's shutdown to return", within: .seconds(60)) {
            await leader.shutdown(transferLeadership: true)
        }
        #expect(throws: Never.self) { try stop.get() }
        let proposed = try await outcome(of: "the pending proposal to return") { try await proposal.value }
        #expect((proposed.failure as? RaftShellError)?.code == .shutDown, "\(proposed)")
        await cluster.shutdownAll()
    }
}

extension Result {
    /// The error, when this is a failure.
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
