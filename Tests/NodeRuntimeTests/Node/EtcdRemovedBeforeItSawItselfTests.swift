import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
@testable import NodeRuntime
import Synchronization
import Testing

// MARK: - With -consensus etcd, a node removed before it saw itself a member

/// With etcd, a node learns it was removed when its watch shows a configuration without it,
/// once it has seen one with it. A node whose join was accepted while it could not read etcd
/// (or whose watch delivered its addition and its removal together) never sees itself a member:
/// it asks etcd itself. A node that is merely cut off from etcd is never told it was removed.
@Suite("Node: an etcd-engine node removed before it saw itself a member", .serialized)
struct EtcdRemovedBeforeItSawItselfTests {
    /// A leader and a non-voter that joined it while cut off from etcd: etcd's configuration
    /// names the non-voter, which has not seen that.
    struct CutOffJoin {
        let etcd: EtcdFixture
        let first: TestNodeSetup
        let second: TestNodeSetup
        var nodes: [RunningNode] = []

        /// e2 reaches etcd only through member 0, e1 through members 1 and 2. e2 starts first,
        /// reads etcd and asks e1 (not started yet) to join; member 0 stops; e1 starts, forms a
        /// cluster and accepts e2's join while e2 cannot read etcd.
        static func start() async throws -> CutOffJoin {
            let etcd = try await EtcdFixture.start(members: 3)
            let key = "disco-\(UUID().uuidString.prefix(8))"
            var first = try TestNodeSetup(id: "e1", prefix: "disco-etcd-removed-early")
            var second = try TestNodeSetup(id: "e2", prefix: "disco-etcd-removed-early")
            var join = CutOffJoin(etcd: etcd, first: first, second: second)
            do {
                let endpoints = try etcd.endpoints.map { try PeerAddress(parsing: $0) }
                first.configuration.consensus = .etcd(EtcdKVConfig(endpoints: [endpoints[1], endpoints[2]]), key: key)
                second.configuration.consensus = .etcd(EtcdKVConfig(endpoints: [endpoints[0]]), key: key)
                second.joinAsNonVoter(of: first)
                // e1 starts only once etcd member 0 is down: e2 keeps asking until it answers.
                second.configuration.formation.joinAttempts = 600
                second.configuration.formation.joinInterval = .milliseconds(200)
                second.configuration.timing.removedLinger = .seconds(5)
                join = CutOffJoin(etcd: etcd, first: first, second: second)

                let joiner = try await RunningNode.start(second.configuration, components: NodeComponents.etcd)
                join.nodes.append(joiner)
                try await waitUntil("e2 to read etcd and ask to join", timeout: .seconds(120)) {
                    joiner.node.consensus.status.stateKnown && joiner.node.runtime.withLock { $0.formation == .joining }
                }
                await etcd.stopMember(0)
                let leader = try await RunningNode.start(first.configuration, components: NodeComponents.etcd)
                join.nodes.insert(leader, at: 0)
                try await waitUntil("e1 to lead and accept e2's join", timeout: .seconds(120)) {
                    leader.node.consensus.status.learners.contains("e2") && joiner.node.runtime.withLock { $0.formation == .clustered }
                }
                #expect(!joiner.node.consensus.status.members.contains("e2"), "e2 was not to see itself a member")
                return join
            } catch {
                await join.stop()
                throw error
            }
        }

        var leader: RunningNode { nodes[0] }
        var joiner: RunningNode { nodes[1] }

        func stop() async {
            for node in nodes { await node.stop() }
            await etcd.stop()
            first.removeDirectory()
            second.removeDirectory()
        }
    }

    /// Before, e2 never learned it was removed: etcd member 0 back, its engine read a
    /// configuration without it, which it took for that of a cluster it had not entered yet
    /// (it had never seen itself in one), so it stayed "clustered" without a leader forever.
    @Test func aNodeRemovedBeforeItSawItselfAMemberLearnsItAndStops() async throws {
        let join = try await CutOffJoin.start()
        do {
            let client = HTTPClient()
            let answer = try await client.send(HTTPClientRequest(method: "DELETE", url: join.first.apiURL + "/remove",
                                                                 body: Array(#"{"id":"e2"}"#.utf8)))
            #expect(answer.status == 200, "\(answer.bodyText)")
            try await join.etcd.restartMember(0)
            var ready = ""
            try await waitUntil("e2's /readyz to say it was removed", timeout: .seconds(120)) {
                guard let answer = try? await client.send(HTTPClientRequest(url: join.second.apiURL + "/readyz")) else { return false }
                ready = "\(answer.status) \(answer.bodyText)"
                return answer.status == 503 && answer.bodyText.contains("was removed from the cluster")
            }
            #expect(join.joiner.node.removal != nil)
            let failure = "\(await join.joiner.outcome().map { "\($0)" } ?? "none")"
            #expect(failure.contains("node e2 was removed from the cluster (the membership under"), "\(failure)")
            #expect(failure.contains("no longer names it"), "\(failure); /readyz: \(ready)")
            #expect(join.leader.node.removal == nil)
            await client.shutdown()
        } catch {
            await join.stop()
            throw error
        }
        await join.stop()
    }

    /// A node that joined while cut off from etcd asks etcd whether it is a member (and gets no
    /// answer) while it is cut off; once etcd is back it sees itself a member and was never told
    /// it was removed.
    @Test func aNodeOnlyCutOffFromEtcdIsNotToldItWasRemoved() async throws {
        let join = try await CutOffJoin.start()
        do {
            try await waitUntil("e2 to ask etcd twice whether it is a member", timeout: .seconds(120)) {
                join.joiner.node.runtime.withLock { $0.membershipCheck.questions } >= 2
            }
            try await join.etcd.restartMember(0)
            try await waitUntil("e2 to see itself a learner", timeout: .seconds(120)) {
                join.joiner.node.consensus.status.learners.contains("e2")
            }
            #expect(join.joiner.node.removal == nil)
            #expect(join.leader.node.consensus.status.learners.contains("e2"))
        } catch {
            await join.stop()
            throw error
        }
        await join.stop()
    }
}
