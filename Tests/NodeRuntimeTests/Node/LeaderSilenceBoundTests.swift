import DiscoCore
import DiscoTestKit
@testable import NodeRuntime
import Synchronization
import Testing

// MARK: - How long a node may go without word from its leader: the caller's bound, or four election timeouts

/// `-api-key-max-staleness` reaches the sidecar's keyed reads as the `bound` of
/// `leaderSilenceProblem(now:bound:)`: nil is four election timeouts, zero is no bound. Before,
/// the bound was always four election timeouts.
@Suite struct LeaderSilenceBoundTests {
    @Test func theBoundIsTheCallersWhenGivenAndZeroIsNone() async throws {
        let setup = try TestNodeSetup(id: "ls1", prefix: "disco-leader-silence")
        defer { setup.removeDirectory() }
        let heard = ContinuousClock.now
        let contact = Mutex(LeaderContact.heard(at: heard))
        let running = try await RunningNode.start(setup.configuration, components: { context in
            var components = try await NodeComponents.embedded(context)
            components.consensus = InterposedConsensus(components.consensus, leaderContact: { _ in contact.withLock { $0 } })
            return components
        })
        let node = running.node
        let bound = node.leaderSilenceBound
        #expect(bound == .milliseconds(1200), "four election timeouts of the default timing")

        // Past the default bound, within a larger one.
        let later = heard + bound + .milliseconds(500)
        let problem = try #require(node.leaderSilenceProblem(now: later))
        #expect(problem.contains("more than 1.2s"), "\(problem)")
        #expect(node.leaderSilenceProblem(now: later, bound: nil) == problem)
        #expect(node.leaderSilenceProblem(now: later, bound: .seconds(10)) == nil)
        let beyond = try #require(node.leaderSilenceProblem(now: heard + .seconds(11), bound: .seconds(10)))
        #expect(beyond.contains("for 11s (more than 10s)"), "\(beyond)")
        // Within the default bound, past a smaller one.
        #expect(node.leaderSilenceProblem(now: heard + .milliseconds(500)) == nil)
        #expect(node.leaderSilenceProblem(now: heard + .milliseconds(500), bound: .milliseconds(100)) != nil)
        // Zero: never a problem, not even for a node that has heard from no leader.
        #expect(node.leaderSilenceProblem(now: heard + .seconds(86_400), bound: .zero) == nil)
        contact.withLock { $0 = .never }
        #expect(node.leaderSilenceProblem(now: later) != nil)
        #expect(node.leaderSilenceProblem(now: later, bound: .seconds(10)) != nil, "a node that never heard from a leader has no bound")
        #expect(node.leaderSilenceProblem(now: later, bound: .zero) == nil)
        #expect(await running.stop() == nil)
    }

    /// The embedded Raft answers the leader contact a sidecar asks for every keyed read from two
    /// fields of its status; it is the contact the whole status reports.
    @Test func raftAnswersTheLeaderContactOfItsStatus() async throws {
        let setup = try TestNodeSetup(id: "ls2", prefix: "disco-leader-contact")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        let node = running.node
        let raft = try #require(node.consensus as? RaftConsensus)
        try await waitUntil("\(node.id) to lead", timeout: .seconds(120)) { raft.status.isLeader }
        #expect(raft.leaderContact == .leading)
        #expect(raft.leaderContact == raft.status.leaderContact)
        #expect(node.leaderSilenceProblem(now: .now + .seconds(86_400)) == nil, "a leader is never silent")
        #expect(await running.stop() == nil)
    }

    @Test func raftNamesTheContactOfAFollower() {
        let heard = ContinuousClock.now
        #expect(RaftConsensus.leaderContact(isLeader: true, lastLeaderContact: heard) == .leading)
        #expect(RaftConsensus.leaderContact(isLeader: false, lastLeaderContact: heard) == .heard(at: heard))
        #expect(RaftConsensus.leaderContact(isLeader: false, lastLeaderContact: nil) == .never)
    }
}
