import DiscoCore
import DiscoNet
@testable import DiscoRaft
import DiscoTestKit
import Testing

// MARK: - Bootstrapping a running, empty node

@Suite("RaftNodeShell: bootstrap in place", .serialized, .timeLimit(.minutes(3)))
struct BootstrapInPlaceTests {
    let ids: [NodeID] = ["n1", "n2", "n3"]

    /// Starts every id with empty state (no bootstrap voters).
    private func emptyCluster(_ ids: [NodeID]) async throws -> ShellCluster {
        let cluster = ShellCluster(voters: ids)
        for id in ids { try await cluster.start(id, bootstrap: false) }
        return cluster
    }

    @Test("a node never configured fails every request fast with not-leader and no leader hint")
    func unconfiguredNodeFailsFast() async throws {
        let cluster = try await emptyCluster(["n1"])
        let shell = try #require(cluster.shell("n1"))
        #expect(!shell.status.hasState)
        #expect(shell.status.config.voters.isEmpty)
        let isNotLeaderWithoutHint: (any Error) -> Bool = { error in
            (error as? RaftShellError)?.code == .notLeader && (error as? RaftShellError)?.leader == nil
        }
        await #expect { _ = try await shell.propose([1]) } throws: { isNotLeaderWithoutHint($0) }
        await #expect { _ = try await shell.readIndex() } throws: { isNotLeaderWithoutHint($0) }
        await #expect { _ = try await shell.changeMembership(.addVoter("n2")) } throws: { isNotLeaderWithoutHint($0) }
        await #expect { _ = try await shell.transferLeadership(to: "n2") } throws: { isNotLeaderWithoutHint($0) }
        #expect(!shell.status.hasState)  // refusing requests wrote nothing
        await cluster.shutdownAll()
    }

    @Test("bootstrapping one of three empty nodes forms the cluster: one leader, voters [n1,n2,n3], proposals applied everywhere")
    func bootstrapOneOfThree() async throws {
        let cluster = try await emptyCluster(ids)
        defer { Task { await cluster.shutdownAll() } }
        let first = try #require(cluster.shell("n1"))
        for shell in cluster.shells { #expect(!shell.status.hasState) }

        await #expect {
            try await first.bootstrap(voters: ["n2", "n3"])
        } throws: { error in
            (error as? RaftShellError)?.code == .invalidArgument && "\(error)".contains("do not include this node (n1)")
        }
        #expect(!first.status.hasState)

        try await first.bootstrap(voters: ids)
        // n1 alone holds the configuration: any leader needs a vote from a node that was empty.
        try await waitUntil("one leader known to all three, every node with voters [n1,n2,n3]", timeout: .seconds(60)) {
            let statuses = cluster.shells.map(\.status)
            return statuses.count == 3 && statuses.allSatisfy { $0.config.voters == ids && $0.leader != nil }
                && Set(statuses.map(\.leader)).count == 1 && statuses.filter(\.isLeader).count == 1
        }
        let index = try await cluster.propose("formed")
        try await waitUntil("the proposal applied on all three") {
            ids.allSatisfy { id in
                (cluster.stateMachine(id)?.texts.contains("formed") ?? false) && (cluster.shell(id)?.status.appliedIndex ?? 0) >= index
            }
        }
        try await cluster.waitForIdenticalState()
        for shell in cluster.shells { #expect(shell.status.hasState) }

        // Nobody can bootstrap a second time: not the founder, not a node that joined by voting.
        for id in ids {
            let shell = try #require(cluster.shell(id))
            await #expect {
                try await shell.bootstrap(voters: ids)
            } throws: { error in
                (error as? RaftShellError)?.code == .alreadyHasState
                    && "\(error)".contains("this node already has Raft state (term ")
                    && "\(error)".contains("it cannot bootstrap again")
            }
        }
        #expect(cluster.shells.allSatisfy { $0.status.config.voters == ids })
        await cluster.shutdownAll()
    }

    @Test("the bootstrapped state is durable: after a restart the node has state and keeps its configuration")
    func bootstrapSurvivesRestart() async throws {
        let cluster = try await emptyCluster(["n1"])
        let shell = try #require(cluster.shell("n1"))
        try await shell.bootstrap(voters: ["n1"])
        try await waitUntil("n1 leads its single-voter cluster") { shell.status.isLeader }
        _ = try await shell.propose(Array("kept".utf8))
        await cluster.stop("n1")
        let restarted = try await cluster.start("n1", bootstrap: false)
        #expect(restarted.status.hasState)
        #expect(restarted.status.config.voters == ["n1"])
        try await waitUntil("n1 leads again and re-applies its entries") {
            restarted.status.isLeader && (cluster.stateMachine("n1")?.texts.contains("kept") ?? false)
        }
        await cluster.shutdownAll()
    }

    @Test("a fourth empty node added as a learner, then promoted, catches up and votes")
    func addLearnerThenPromote() async throws {
        let cluster = try await emptyCluster(ids)
        defer { Task { await cluster.shutdownAll() } }
        try await #require(cluster.shell("n2")).bootstrap(voters: ids)
        _ = try await cluster.waitForLeader()
        _ = try await cluster.proposeMany(20, prefix: "before", concurrency: 4)

        let joiner = try await cluster.start("n4", bootstrap: false)
        #expect(!joiner.status.hasState)
        _ = try await cluster.waitForLeader().changeMembership(.addLearner("n4"))
        try await waitUntil("n4 holds the entries written before it joined") {
            (cluster.stateMachine("n4")?.texts.filter { $0.hasPrefix("before-") }.count ?? 0) == 20
        }
        #expect(joiner.status.config.learners == ["n4"])
        #expect(joiner.status.config.voters == ids)

        try await promoteOnceCaughtUp("n4", in: cluster)
        _ = try await cluster.proposeMany(20, prefix: "after", concurrency: 4)
        try await cluster.waitForIdenticalState()
        let all: [NodeID] = ["n1", "n2", "n3", "n4"]
        for shell in cluster.shells {
            #expect(shell.status.config.voters == all)
            #expect(shell.status.config.learners.isEmpty)
        }
        #expect(joiner.status.hasState)
        await cluster.shutdownAll()
    }
}
