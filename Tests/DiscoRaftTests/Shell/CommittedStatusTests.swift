import DiscoCore
@testable import DiscoRaft
import DiscoTestKit
import Testing

// MARK: - A committed request and the status after it

/// A request answered as committed is answered after the status of the turn that committed it
/// is published: the caller that then reads the node's status sees its own change. Before, the
/// answer came as the entry applied, ahead of the status (and of the core taking the new
/// configuration), so a node that had just added a learner could read a status without it.
@Suite("RaftNodeShell: status after a committed request", .serialized)
struct CommittedStatusTests {
    @Test func aCommittedMembershipChangeIsInTheStatusItsCallerReadsNext() async throws {
        let cluster = try await ShellCluster.start(["c1"])
        defer { Task { await cluster.shutdownAll() } }
        let leader = try await cluster.waitForLeader()
        var missing: [String] = []
        for round in 0..<40 {
            let learner = try #require(NodeID("learner-\(round)"))
            _ = try await leader.changeMembership(.addLearner(learner))
            if !leader.status.config.learners.contains(learner) { missing.append("\(learner) after it was added") }
            _ = try await leader.changeMembership(.remove(learner))
            if leader.status.config.learners.contains(learner) { missing.append("\(learner) still there after it was removed") }
            let index = try await cluster.propose("entry-\(round)")
            if leader.status.commitIndex < index { missing.append("commit index \(leader.status.commitIndex) below entry \(index)") }
        }
        #expect(missing.isEmpty, "status not yet showing the committed change: \(missing)")
        await cluster.shutdownAll()
    }
}
