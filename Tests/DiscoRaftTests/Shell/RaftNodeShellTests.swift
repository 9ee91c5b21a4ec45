import DiscoCore
import DiscoNet
@testable import DiscoRaft
import DiscoTestKit
import Foundation
import Testing

// MARK: - Replication, fail-over and recovery through real shells

@Suite("RaftNodeShell", .serialized)
struct RaftNodeShellTests {
    let ids: [NodeID] = ["n1", "n2", "n3"]

    @Test("3 shells elect a leader and commit 1,000 proposals; every node applies the same sequence")
    func thousandProposals() async throws {
        let cluster = try await ShellCluster.start(ids)
        defer { Task { await cluster.shutdownAll() } }
        let leader = try await cluster.waitForLeader()
        let texts = try await cluster.proposeMany(1000, prefix: "p", concurrency: 32)
        try await cluster.waitForIdenticalState()
        let applied = try #require(cluster.stateMachine(leader.id)).texts
        let proposals = applied.filter { $0.hasPrefix("p-") }
        #expect(proposals.count == 1000)
        #expect(Set(proposals) == Set(texts))
        for id in ids {
            let status = try #require(cluster.shell(id)?.status)
            #expect(status.config.voters == ids)
            #expect(status.commitIndex == status.appliedIndex)
        }
        await cluster.shutdownAll()
    }

    @Test("group commit: proposals that arrive together are made durable with one fsync")
    func groupCommit() async throws {
        let cluster = try await ShellCluster.start(ids)
        defer { Task { await cluster.shutdownAll() } }
        let leader = try await cluster.waitForLeader()
        let machine = try #require(cluster.stateMachine(leader.id))
        let syncsBefore = leader.status.storageSyncs
        // Hold the leader's driver inside the state machine while 100 proposals queue up.
        let gate = Task { try await leader.propose(Array("gate".utf8)) }
        try await waitUntil("the leader blocked at the gate") { machine.isBlockedAtGate }
        let proposals = Task {
            try await withThrowingTaskGroup(of: UInt64.self) { group in
                for k in 0..<100 { group.addTask { try await leader.propose(Array("batched-\(k)".utf8)) } }
                return try await group.reduce(into: [UInt64]()) { $0.append($1) }
            }
        }
        try await waitUntil("100 proposals queued at the leader") { leader.inbox.count >= 100 }
        for id in ids { cluster.stateMachine(id)?.openGate() }
        _ = try await gate.value
        let indexes = try await proposals.value.sorted()
        #expect(indexes.count == 100)
        #expect(indexes.last.map { $0 - indexes[0] } == 99)  // consecutive: one batch
        let syncs = leader.status.storageSyncs - syncsBefore
        #expect(syncs < 50, "\(syncs) fsyncs for 101 proposals")
        await cluster.shutdownAll()
    }

    @Test("reads: the leader confirms a read index covering every acknowledged write; followers name the leader")
    func readIndex() async throws {
        let cluster = try await ShellCluster.start(ids)
        defer { Task { await cluster.shutdownAll() } }
        let leader = try await cluster.waitForLeader()
        let written = try await leader.propose(Array("read-me".utf8))
        let readIndex = try await leader.readIndex()
        #expect(readIndex >= written)
        #expect(try #require(cluster.stateMachine(leader.id)).texts.contains("read-me"))
        let follower = try #require(cluster.shells.first { !$0.status.isLeader })
        await #expect {
            _ = try await follower.readIndex()
        } throws: { error in
            (error as? RaftShellError)?.code == .notLeader && (error as? RaftShellError)?.leader != nil
        }
        await #expect {
            _ = try await follower.propose([1])
        } throws: { error in
            (error as? RaftShellError)?.code == .notLeader && (error as? RaftShellError)?.leader != nil
        }
        await cluster.shutdownAll()
    }

    @Test("the leader stops abruptly: a new leader is elected and no acknowledged entry is lost")
    func leaderCrash() async throws {
        let cluster = try await ShellCluster.start(ids)
        defer { Task { await cluster.shutdownAll() } }
        let first = try await cluster.waitForLeader()
        // The term it was elected in: read later, a leader a stall deposed has a later one.
        let firstTerm = first.status.term
        let before = try await cluster.proposeMany(100, prefix: "before", concurrency: 8)
        await cluster.stop(first.id, transferLeadership: false)
        let second = try await cluster.waitForLeader(excluding: first.id)
        #expect(second.id != first.id)
        #expect(second.status.term > firstTerm)
        let after = try await cluster.proposeMany(50, prefix: "after", concurrency: 8)
        try await cluster.waitForIdenticalState()
        let applied = Set(try #require(cluster.stateMachine(second.id)).texts)
        #expect(applied.isSuperset(of: before))
        #expect(applied.isSuperset(of: after))
        await cluster.shutdownAll()
    }

    @Test("a stopped follower restarts from its data directory (on a new port) and catches up")
    func followerRestart() async throws {
        let cluster = try await ShellCluster.start(ids)
        defer { Task { await cluster.shutdownAll() } }
        let leader = try await cluster.waitForLeader()
        let follower = try #require(ids.first { $0 != leader.id })
        _ = try await cluster.proposeMany(100, prefix: "one", concurrency: 8)
        try await cluster.waitForIdenticalState()
        let oldAddress = try #require(cluster.shell(follower)?.listenAddress)
        await cluster.stop(follower)
        _ = try await cluster.proposeMany(100, prefix: "two", concurrency: 8)
        let restarted = try await cluster.start(follower)
        #expect(restarted.status.lastIndex >= 101)  // recovered its log from the WAL
        #expect(restarted.listenAddress != oldAddress)
        try await cluster.waitForIdenticalState()
        let texts = try #require(cluster.stateMachine(follower)).texts
        #expect(texts.filter { $0.hasPrefix("one-") || $0.hasPrefix("two-") }.count == 200)
        await cluster.shutdownAll()
    }

    @Test("a follower behind the leader's compacted log catches up through a chunked snapshot")
    func followerRestartViaSnapshot() async throws {
        var raft = RaftOptions()
        raft.snapshotThreshold = 40
        var transport = RaftTransportOptions()
        transport.chunkSize = 512  // the snapshot spans many chunk frames
        // The leader's queue for the stopped follower keeps only the newest appends, so the
        // follower cannot catch up from what was queued while it was down.
        transport.maxQueuedMessages = 16
        let cluster = try await ShellCluster.start(ids, raft: raft, transport: transport)
        defer { Task { await cluster.shutdownAll() } }
        let leader = try await cluster.waitForLeader()
        let follower = try #require(ids.first { $0 != leader.id })
        _ = try await cluster.proposeMany(30, prefix: "one", concurrency: 4)
        try await cluster.waitForIdenticalState()
        let stoppedAt = try #require(cluster.shell(follower)?.status.lastIndex)
        await cluster.stop(follower)
        _ = try await cluster.proposeMany(200, prefix: "two", concurrency: 8)
        // Every running node, not only the first leader: leadership may move under load, and
        // whichever node leads when the follower returns must have compacted past it.
        try await waitUntil("every running node compacts past the stopped follower's log") {
            ids.filter { $0 != follower }.allSatisfy { (cluster.shell($0)?.status.snapshotIndex ?? 0) > stoppedAt + 1 }
        }
        let restarted = try await cluster.start(follower)
        try await cluster.waitForIdenticalState()
        let machine = try #require(cluster.stateMachine(follower))
        #expect(machine.restores >= 1)
        #expect(machine.texts.filter { $0.hasPrefix("one-") || $0.hasPrefix("two-") }.count == 230)
        #expect(restarted.status.snapshotIndex > stoppedAt)
        await cluster.shutdownAll()
    }

    @Test("graceful shutdown of the leader hands leadership over; transferLeadership moves it on request")
    func leadershipTransfer() async throws {
        let cluster = try await ShellCluster.start(ids)
        defer { Task { await cluster.shutdownAll() } }
        let leader = try await cluster.waitForLeader()
        let target = try #require(ids.first { $0 != leader.id })
        let changes = try #require(cluster.shell(target)).leadershipChanges()
        try await leader.transferLeadership(to: target)
        let targetShell = try #require(cluster.shell(target))
        try await waitUntil("\(target) leads after the transfer") { targetShell.status.isLeader }
        var sawTarget = false
        for await change in changes where change.leader == target {
            sawTarget = change.isLocal
            break
        }
        #expect(sawTarget)
        _ = try await cluster.waitForLeader()
        await cluster.stop(target, transferLeadership: true)
        #expect(!targetShell.status.isLeader)  // it stepped down before stopping
        #expect(targetShell.status.isStopped)
        let next = try await cluster.waitForLeader(excluding: target)
        #expect(next.id != target)
        await cluster.shutdownAll()
    }

    @Test("the whole cluster stops and restarts from its data directories with every entry intact")
    func wholeClusterRestart() async throws {
        let cluster = try await ShellCluster.start(ids)
        defer { Task { await cluster.shutdownAll() } }
        _ = try await cluster.waitForLeader()
        let written = try await cluster.proposeMany(60, prefix: "kept", concurrency: 6)
        let termBefore = try #require(cluster.leader).status.term
        for id in ids { await cluster.stop(id) }
        for id in ids { try await cluster.start(id) }
        let leader = try await cluster.waitForLeader()
        #expect(leader.status.term > termBefore)
        try await cluster.waitForIdenticalState()
        let texts = try #require(cluster.stateMachine(leader.id)).texts
        #expect(texts.filter { $0.hasPrefix("kept-") }.sorted() == written.sorted())
        await cluster.shutdownAll()
    }

    @Test("requests fail clearly: not-leader with no leader known, a data directory in use, shut-down after shutdown")
    func requestErrors() async throws {
        let cluster = ShellCluster(voters: ids)
        let lonely = try await cluster.start("n1")  // its peers never start: no leader can be elected
        await #expect {
            _ = try await lonely.propose([1])
        } throws: { error in
            (error as? RaftShellError)?.code == .notLeader && (error as? RaftShellError)?.leader == nil
        }
        await #expect {
            try await lonely.transferLeadership(to: "n2")
        } throws: { error in
            (error as? RaftShellError)?.code == .notLeader
        }
        await #expect {
            try await cluster.start("n1", waitForLock: false)  // the same data directory, still in use
        } throws: { error in
            (error as? RaftShellError)?.code == .storage
                && "\(error)".contains("another node (process \(ProcessInfo.processInfo.processIdentifier)) is using this data directory")
        }
        await cluster.stop("n1")
        #expect(lonely.status.isStopped)
        await #expect {
            _ = try await lonely.readIndex()
        } throws: { error in
            (error as? RaftShellError)?.code == .shutDown
        }
        var changes: [LeadershipChange] = []
        for await change in lonely.leadershipChanges() { changes.append(change) }
        #expect(changes.count == 1)  // the current state, then the stream ends
        await cluster.shutdownAll()
    }

    @Test("a garbage frame sent to a node closes only that connection; the cluster keeps committing")
    func garbageFrame() async throws {
        let cluster = try await ShellCluster.start(ids)
        defer { Task { await cluster.shutdownAll() } }
        let leader = try await cluster.waitForLeader()
        let follower = try #require(cluster.shells.first { !$0.status.isLeader })
        let connectsBefore = leader.transportMetrics.connects
        let target = try #require(SocketAddress(numericHost: "127.0.0.1", port: follower.listenAddress.port))
        let client = try RawSocketClient(connectTo: target)
        try client.send(Frame(type: RaftWireFormat.messageFrameType, payload: [1, 5, 0, 2]).encoded())
        #expect(try await client.isClosedByPeer())
        #expect(follower.transportMetrics.badFrames == 1)
        #expect(cluster.logs.lines.contains { $0.contains("closing internode connection") && $0.contains("truncated") })
        _ = try await cluster.proposeMany(20, prefix: "after-garbage", concurrency: 4)
        try await cluster.waitForIdenticalState()
        #expect(leader.transportMetrics.connects == connectsBefore)  // the leader's connections were untouched
        await cluster.shutdownAll()
    }

    @Test("membership: a 4th node joins as a learner, is promoted once caught up, then removed")
    func membershipChanges() async throws {
        let cluster = try await ShellCluster.start(ids)
        defer { Task { await cluster.shutdownAll() } }
        let leader = try await cluster.waitForLeader()
        _ = try await cluster.proposeMany(20, prefix: "early", concurrency: 4)
        let joiner = try await cluster.start("n4", bootstrap: false)
        #expect(joiner.status.config.voters.isEmpty)
        await #expect {
            _ = try await leader.changeMembership(.addVoter("n4"))
        } throws: { error in
            (error as? RaftShellError)?.code == .invalidArgument
        }
        _ = try await leader.changeMembership(.addLearner("n4"))
        try await promoteOnceCaughtUp("n4", in: cluster)
        _ = try await cluster.proposeMany(20, prefix: "four", concurrency: 4)
        try await cluster.waitForIdenticalState()
        for shell in cluster.shells { #expect(shell.status.config.voters == ["n1", "n2", "n3", "n4"]) }
        #expect(try #require(cluster.stateMachine("n4")).texts.filter { $0.hasPrefix("early-") }.count == 20)

        let current = try await cluster.waitForLeader()
        _ = try await current.changeMembership(.remove("n4"))
        await cluster.stop("n4")
        _ = try await cluster.proposeMany(20, prefix: "three", concurrency: 4)
        try await cluster.waitForIdenticalState()
        for shell in cluster.shells { #expect(shell.status.config.voters == ids) }
        await #expect {
            _ = try await cluster.waitForLeader().changeMembership(.remove("n4"))
        } throws: { error in
            (error as? RaftShellError)?.code == .invalidArgument
        }
        await cluster.shutdownAll()
    }
}
