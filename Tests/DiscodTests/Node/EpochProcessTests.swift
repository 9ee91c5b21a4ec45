import DiscoCore
import DiscoTestKit
import Foundation
import Testing

// MARK: - A node from another incarnation of the cluster

extension NodeProcessTests {
    @Suite struct Epochs {
        /// Node 2 formed its own single-node cluster (its own epoch). Restarted with `-join`
        /// pointing at node 1's cluster, it is refused with a message naming both epochs and
        /// telling it to wipe its data directory, and it exits 1; node 1's cluster is unchanged.
        @Test func nodeWithAnotherEpochIsRefusedAndToldToRebootstrap() async throws {
            try await DiscodCluster.with("epoch") { cluster in
                let one = try cluster.start(id: "1", ports: try DiscodCluster.ports(), flags: [])
                let twoPorts = try DiscodCluster.ports()
                let two = try cluster.start(id: "2", ports: twoPorts, flags: [])
                try await DiscodCluster.waitForLeader([one])
                try await DiscodCluster.waitForLeader([two])
                try await waitUntil("both clusters to have an epoch") {
                    let first = try? await one.status()
                    let second = try? await two.status()
                    return first?["cluster"]?["epoch"]?.numberValue != nil && second?["cluster"]?["epoch"]?.numberValue != nil
                }
                #expect(await two.terminate() == 0)

                let again = try cluster.restart(two, flags: ["-join", one.apiURL])
                let status = try await again.process.waitForExit(timeout: .seconds(60))
                #expect(status == 1, "\(again.process.output)")
                #expect(again.process.output.contains("epoch mismatch"), "\(again.process.output)")
                #expect(again.process.output.contains("wipe node 2's data directory"), "\(again.process.output)")
                #expect(try await firstAnswer("GET /nodes on node 1") { await one.memberIDs() } == ["1"])
                #expect(try await firstAnswer("GET /leader on node 1") { await one.leaderID() } == "1")
            }
        }
    }
}
