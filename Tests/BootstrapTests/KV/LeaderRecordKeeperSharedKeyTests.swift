import DiscoCore
import DiscoTestKit
import Testing
@testable import Bootstrap

/// Two clusters under one `-disco-key`: the leader of one does not take the record from the
/// leader of the other (the two would otherwise swap it for good, sending new nodes to either).
@Suite(.serialized) struct LeaderRecordKeeperSharedKeyTests {
    @Test(arguments: KVBackend.allCases)
    func aLeaderLeavesARecordNamingAnotherClustersNodeAlone(on backend: KVBackend) async throws {
        try await KVStoreHarness.with(backend) { store in
            let reader = store.registry()
            let a = nodeRecord("a", port: 4001), b = nodeRecord("b", port: 5001)
            // Cluster one is {a}, cluster two is {b}.
            let keeperA = LeaderRecordKeeper(registry: store.registry(), me: a, settings: store.keeperSettings(),
                                             logger: capturingLogger().0, seed: 3, isMember: { $0 == "a" })
            let keeperB = LeaderRecordKeeper(registry: store.registry(), me: b, settings: store.keeperSettings(),
                                             logger: capturingLogger().0, seed: 4, isMember: { $0 == "b" })
            try await runThenCleanUp {
                await keeperA.leadershipChanged(isLeader: true)
                try await waitUntil("a to hold the record") {
                    let holding = await keeperA.state.holding
                    let record = try await reader.read()?.record
                    return holding && record == a
                }
                await keeperB.leadershipChanged(isLeader: true)
                try await waitUntil("b to report that the record names another cluster's node") {
                    await keeperB.state.lastError?.contains("not a member of this cluster") == true
                }
                #expect(await keeperB.state.lastError?.contains("-disco-key") == true)
                #expect(await keeperB.state.writes == 0)
                #expect(try await reader.read()?.record == a)

                // Once the other cluster's record is gone, b takes it.
                await keeperA.shutdown()
                try await waitUntil("b to take the record once a's is gone") {
                    let holding = await keeperB.state.holding
                    let record = try await reader.read()?.record
                    return holding && record == b
                }
            } _: {
                await keeperA.shutdown()
                await keeperB.shutdown()
            }
        }
    }
}
