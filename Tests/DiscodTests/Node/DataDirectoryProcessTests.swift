import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - Data directory ownership and the bootstrap-expect timeout

extension NodeProcessTests {
    @Suite struct DataDirectory {
        /// A second discod on a locked data directory exits 1 naming the lock and the process that
        /// holds it; a node started
        /// with another -node-id on an existing directory exits 1 naming the original ID.
        @Test func lockedDirectoryAndForeignNodeIDAreRefused() async throws {
            try await DiscodCluster.with("datadir") { cluster in
                let first = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: [])
                try await DiscodCluster.waitForLeader([first])
                let secondPorts = try DiscodCluster.ports()
                let second = try DiscodProcess(nodeID: "1", httpPort: secondPorts.http, raftPort: secondPorts.raft,
                                               dataDirectory: first.dataDirectory)
                let secondStatus = try await second.process.waitForExit(timeout: .seconds(60))
                #expect(secondStatus == 1, "\(second.process.output)")
                #expect(second.process.output.contains("lock"), "\(second.process.output)")
                let holder = try #require(first.process.pid)
                #expect(second.process.output.contains("another node's process (pid \(holder)) is using this data directory"),
                        "\(second.process.output)")
                #expect(first.process.isRunning)
                #expect(try await firstAnswer("GET /leader on node 1") { await first.leaderID() } == "1")

                #expect(await first.terminate() == 0)
                let otherPorts = try DiscodCluster.ports()
                let impostor = try DiscodProcess(nodeID: "2", httpPort: otherPorts.http, raftPort: otherPorts.raft,
                                                 dataDirectory: first.dataDirectory)
                let impostorStatus = try await impostor.process.waitForExit(timeout: .seconds(60))
                #expect(impostorStatus == 1, "\(impostor.process.output)")
                #expect(impostor.process.output.contains(#"belongs to node "1""#), "\(impostor.process.output)")
                #expect(impostor.process.output.contains("-node-id 1"), "\(impostor.process.output)")
            }
        }

        /// A node started with `-cluster-name alpha` on the data directory of a member of cluster
        /// "beta" exits 1 naming both names; started with `-cluster-name beta` it runs with its
        /// events (it used to run as a member of "beta" with gossip labelled "alpha").
        @Test func dataDirectoryOfAnotherClusterIsRefused() async throws {
            try await DiscodCluster.with("datadir-cluster") { cluster in
                let member = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: ["-cluster-name", "beta"])
                try await DiscodCluster.waitForLeader([member])
                try await NodeTests.append(#"{"test":"cluster-name"}"#, via: member)
                // The leader records the cluster's name and epoch in the replicated state shortly after it leads.
                try await NodeTests.eventually("cluster beta to be initialized", [member]) { await NodeTests.epoch(of: member) != nil }
                #expect(await member.terminate() == 0)

                let stranger = try cluster.restart(member, flags: ["-cluster-name", "alpha"])
                let status = try await stranger.process.waitForExit(timeout: .seconds(60))
                #expect(status == 1, "\(stranger.process.output)")
                #expect(stranger.process.output.contains(#"holds the state of cluster \"beta\", but this node was started with -cluster-name alpha"#),
                        "\(stranger.process.output)")
                #expect(stranger.process.output.contains("start it with -cluster-name beta"), "\(stranger.process.output)")

                let again = try cluster.restart(member, flags: ["-cluster-name", "beta"])
                try await DiscodCluster.waitForLeader([again])
                #expect(try await again.eventData() == [#"{"test":"cluster-name"}"#])
                #expect(again.process.isRunning)
            }
        }

        /// Without state, `-bootstrap-expect 3 -bootstrap-expect-timeout 2s` alone exits 1 with a
        /// clear message; a node that has state and the same flags keeps running past that
        /// timeout (the fresh node's exit, started after it, shows the timeout has passed).
        @Test func bootstrapExpectTimeoutSparesANodeWithState() async throws {
            try await DiscodCluster.with("expect-timeout") { cluster in
                let unreachable = try DiscodCluster.ports(count: 2)
                let veteranPorts = try DiscodCluster.ports()
                let veteran = try cluster.start(id: "1", ports: veteranPorts, flags: [])
                try await DiscodCluster.waitForLeader([veteran])
                try await NodeTests.append(#"{"test":"expect-timeout"}"#, via: veteran)
                #expect(await veteran.terminate() == 0)

                let timeoutFlags = ["-bootstrap-expect", "3", "-bootstrap-expect-timeout", "2s", "-join"]
                let restarted = try cluster.restart(veteran, flags: timeoutFlags + [DiscodCluster.joinList(unreachable)])
                try await NodeTests.eventually("the restarted node to serve /readyz?noleader", [restarted]) {
                    (try? await restarted.request("GET", "/readyz?noleader"))?.status == 200
                }
                let freshPorts = try DiscodCluster.ports()
                let fresh = try cluster.start(id: "2", ports: freshPorts,
                                              flags: timeoutFlags + [DiscodCluster.joinList([freshPorts] + unreachable)])
                let freshStatus = try await fresh.process.waitForExit(timeout: .seconds(90))
                #expect(freshStatus == 1, "\(fresh.process.output)")
                #expect(fresh.process.output.contains("-bootstrap-expect-timeout 2s;"), "\(fresh.process.output)")
                #expect(fresh.process.output.contains("no cluster formed"), "\(fresh.process.output)")

                #expect(restarted.process.isRunning, "the node with state exited:\n\(restarted.process.output)")
                let alive = try await firstAnswer("GET /readyz?noleader on node 1") { try await restarted.request("GET", "/readyz?noleader") }
                #expect(alive.status == 200)
                #expect(try await firstAnswer("GET /leader on node 1") { await restarted.leaderID() } == "1")
                #expect(try await restarted.eventData() == [#"{"test":"expect-timeout"}"#])
            }
        }
    }
}
