import DiscoCore
import DiscoTestKit
import Testing
@testable import Bootstrap

/// Two clusters under one `-disco-key`: the leader of one does not take the record from the
/// leader of the other (the two would otherwise swap it for good, sending new nodes to either).
@Suite(.serialized) struct LeaderRecordKeeperSharedKeyTests {
    @Test(arguments: KVBackend.allCases)
    func aLeaderLeavesARecordNamingAnotherClustersNodeAlone(on backend: KVBackend) async throws {
        // A lease that outlives a stalled machine: a's record must not expire while b looks at it.
        try await KVStoreHarness.with(backend, etcdTTL: .seconds(60)) { store in
            let reader = store.registry()
            let a = nodeRecord("a", port: 4001), b = nodeRecord("b", port: 5001)
            // Cluster one is {a}, cluster two is {b}.
            let keeperA = LeaderRecordKeeper(registry: store.registry(), me: a, settings: store.keeperSettings(),
                                             logger: capturingLogger().0, seed: 3, isMember: { $0 == "a" })
            let keeperB = LeaderRecordKeeper(registry: store.registry(), me: b, settings: store.keeperSettings(),
                                             logger: capturingLogger().0, seed: 4, isMember: { $0 == "b" })
            try await runThenCleanUp {
                await keeperA.leadershipChanged(isLeader: true)
                try await waitUntil("a to hold the record", retryingErrors: true) {
                    let holding = await keeperA.state.holding
                    let record = try await reader.read()?.record
                    return holding && record == a
                }
                await keeperB.leadershipChanged(isLeader: true)
                // b retries all along: its report is read once, when it says what the test waits for
                // (a later attempt may fail otherwise, a request that timed out on a loaded machine).
                var report = ""
                try await waitUntil("b to report that the record names another cluster's node") {
                    report = await keeperB.state.lastError ?? ""
                    return report.contains("not a member of this cluster")
                }
                #expect(report.contains("-disco-key"), "\(report)")
                #expect(await keeperB.state.writes == 0)
                #expect(try await reader.read()?.record == a)

                // Once the other cluster's record is gone, b takes it.
                await keeperA.shutdown()
                try await waitUntil("b to take the record once a's is gone", retryingErrors: true) {
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
