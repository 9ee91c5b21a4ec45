import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - -bootstrap-expect: a promise to a proposer that stopped before bootstrapping

extension NodeProcessTests {
    /// Nodes 2 and 3 promise themselves to node 1's proposal, and node 1 stops before it hears
    /// the last acceptance (node 3 advertises a relay that holds that answer back), so no
    /// cluster exists. A promised node waits for its proposer's verdict (`GET /bootstrap/status`)
    /// instead of joining elsewhere; these tests follow it when the proposer comes back on a new
    /// address, and when it never comes back.
    @Suite struct PromisedProposer {
        /// The three nodes after node 1 was killed holding nodes 2 and 3's promises: node 2 still
        /// runs as it was, node 3 runs again on its own address (without the relay).
        struct Promised {
            let ports: [NodePorts]
            let first: DiscodProcess
            let second: DiscodProcess
            let third: DiscodProcess
        }

        /// Starts nodes 1, 2, 3 with `-bootstrap-expect 3`, waits until both others hold a
        /// promise to node 1's proposal, then kills node 1 and moves node 3 off the relay.
        static func promisedThenProposerKilled(_ cluster: DiscodCluster, extraFlags: [String] = []) async throws -> Promised {
            let ports = try DiscodCluster.ports(count: 3)
            let relay = try await AnswerRelay.start(holding: "/bootstrap/propose")
            let relayed = "http://127.0.0.1:\(ports[0].http),http://127.0.0.1:\(ports[1].http),http://\(relay.address)"
            // The proposer waits (up to 120 s) for node 3's held answer instead of retrying.
            let forming = ["-bootstrap-expect", "3", "-join", relayed, "-cluster-connect-timeout", "120s"] + extraFlags
            let first = try cluster.start(id: "1", ports: ports[0], flags: forming)
            let second = try cluster.start(id: "2", ports: ports[1], flags: forming)
            let third = try cluster.start(id: "3", ports: ports[2], flags: forming + ["-http-adv-addr", relay.address])
            relay.forward(to: third)
            let nodes = [first, second, third]
            try await NodeTests.eventually("nodes 2 and 3 to promise themselves to node 1's proposal", nodes, timeout: .seconds(90)) {
                relay.accepted && [second, third].allSatisfy { EtcdFormationStopped.promise(in: $0)?["proposer"]?.stringValue == "1" }
            }
            await first.kill()
            _ = await third.terminate()
            await relay.stop()
            #expect(EtcdFormationStopped.promise(in: third) != nil, "node 3 keeps its promise on disk\n\(third.process.output)")
            let again = try cluster.restart(third, flags: ["-bootstrap-expect", "3", "-join", DiscodCluster.joinList(ports)] + extraFlags)
            return Promised(ports: ports, first: first, second: second, third: again)
        }

        /// (a) Node 1 comes back with its data directory on new ports: it disowns its old
        /// proposal, proposes again and the three form one cluster.
        @Test(arguments: DiscodEngine.allCases) func theProposerBackOnANewAddressFormsTheCluster(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("promise-moved", engine: engine) { cluster in
                let promised = try await Self.promisedThenProposerKilled(cluster)
                let moved = try DiscodCluster.ports()
                let first = try cluster.restart(promised.first, ports: moved,
                                                flags: ["-bootstrap-expect", "3", "-join", DiscodCluster.joinList([moved] + promised.ports.dropFirst())])
                let nodes = [first, promised.second, promised.third]
                try await NodeTests.eventually("nodes 1, 2, 3 to form one cluster", nodes, timeout: .seconds(90)) {
                    for node in nodes where await node.memberIDs() != ["1", "2", "3"] { return false }
                    return true
                }
                try await DiscodCluster.waitForLeader(nodes)
            }
        }

        /// (a') Node 1 comes back on new ports while node 0 (a smaller ID) starts: node 0 now
        /// proposes, and node 1 never proposes again. Nodes 2 and 3 must learn node 1's new
        /// address from its notifies and ask it there; asked at the old address they would wait
        /// forever, refusing node 0's proposals, and no cluster would form.
        @Test(arguments: DiscodEngine.allCases) func promisedNodesAskTheProposerAtItsNewAddress(engine: DiscodEngine) async throws {
            try await DiscodCluster.with("promise-asked", engine: engine) { cluster in
                let promised = try await Self.promisedThenProposerKilled(cluster)
                let moved = try DiscodCluster.ports(count: 2)
                let join = DiscodCluster.joinList(moved + promised.ports.dropFirst())
                let zero = try cluster.start(id: "0", ports: moved[1], flags: ["-bootstrap-expect", "3", "-join", join])
                // Up before node 1, so node 1 learns of a smaller ID in its first rounds and leaves the proposing to it.
                try await NodeTests.eventually("node 0 to answer /status", [zero]) { (try? await zero.status()) != nil }
                let first = try cluster.restart(promised.first, ports: moved[0], flags: ["-bootstrap-expect", "3", "-join", join])
                let nodes = [zero, first, promised.second, promised.third]
                try await NodeTests.eventually("nodes 0 to 3 to be members of one cluster", nodes, timeout: .seconds(120)) {
                    for node in nodes where await node.memberIDs() != ["0", "1", "2", "3"] { return false }
                    return true
                }
                try await DiscodCluster.waitForLeader(nodes)
                #expect(promised.second.process.output.contains("promise released"), "\(promised.second.process.output)")
            }
        }

        /// (b) Node 1 never comes back and node 4 starts instead. Node 1 may have bootstrapped
        /// with all three promises and stopped before its Raft reached anyone, so the promised
        /// nodes may not help form another cluster: at `-bootstrap-expect-timeout` they exit 1,
        /// and the message names the promise, the proposer and what an operator can do.
        @Test func aPromiseToAProposerGoneForGoodIsNamedAtTheTimeout() async throws {
            try await DiscodCluster.with("promise-gone") { cluster in
                let promised = try await Self.promisedThenProposerKilled(cluster, extraFlags: ["-bootstrap-expect-timeout", "15s"])
                let ports = try DiscodCluster.ports()
                let join = DiscodCluster.joinList(promised.ports.dropFirst() + [ports])
                let fourth = try cluster.start(id: "4", ports: ports, flags: ["-bootstrap-expect", "3", "-join", join])
                try await NodeTests.eventually("node 3 to give up at its -bootstrap-expect-timeout", [fourth], timeout: .seconds(120)) {
                    promised.third.process.exitStatus != nil
                }
                let output = promised.third.process.output
                #expect(promised.third.process.exitStatus == 1, "\(output)")
                #expect(output.contains("still promised to proposal 1#1"), "\(output)")
                #expect(output.contains("127.0.0.1:\(promised.ports[0].http)"), "the message names where node 1 was asked\n\(output)")
                #expect(output.contains("bootstrap-promise.json"), "the message names the file an operator may delete\n\(output)")
                #expect(EtcdFormationStopped.promise(in: promised.third) != nil, "the promise is kept\n\(output)")
                #expect(await fourth.leaderID() == nil, "no cluster formed without node 1's verdict")
            }
        }
    }
}
