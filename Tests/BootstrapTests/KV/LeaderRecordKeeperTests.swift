import DiscoCore
import DiscoEtcd
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing
@testable import Bootstrap

/// The leader keeps the record naming itself under its session or lease, hands it over when
/// leadership moves, lets it expire when it stops, releases it at shutdown, and rides out an
/// unreachable store.
@Suite(.serialized) struct LeaderRecordKeeperTests {
    func keeper(_ store: KVStoreHarness, _ me: LeaderRecord, registry: FlakyLeaderRegistry? = nil,
                logger: Logger = capturingLogger().0) -> LeaderRecordKeeper {
        LeaderRecordKeeper(registry: registry ?? store.registry(), me: me, settings: store.keeperSettings(),
                           logger: logger, seed: 3)
    }

    /// Runs `body`, then shuts the keepers down whether it threw or not.
    func withKeepers(_ keepers: [LeaderRecordKeeper], _ body: () async throws -> Void) async throws {
        try await runThenCleanUp(body) {
            for keeper in keepers { await keeper.shutdown() }
        }
    }

    // MARK: Holding and handing over

    @Test(arguments: KVBackend.allCases)
    func leaderHoldsTheRecordAndTheNextLeaderTakesItOver(on backend: KVBackend) async throws {
        try await KVStoreHarness.with(backend, etcdTTL: .seconds(60)) { store in
            let reader = store.registry()
            let a = nodeRecord("a", port: 4001), b = nodeRecord("b", port: 5001)
            let keeperA = keeper(store, a), keeperB = keeper(store, b)
            try await withKeepers([keeperA, keeperB]) {
                await keeperA.leadershipChanged(isLeader: true)
                try await waitUntil("a to hold the record", retryingErrors: true) {
                    let holding = await keeperA.state.holding
                    let record = try await reader.read()?.record
                    return holding && record == a
                }

                await keeperA.leadershipChanged(isLeader: false)
                await keeperB.leadershipChanged(isLeader: true)
                try await waitUntil("b to take the record over", retryingErrors: true) {
                    let holding = await keeperB.state.holding
                    let record = try await reader.read()?.record
                    return holding && record == b
                }
                // a may have renewed before it stepped down (a loaded machine is slow to get
                // there); once b holds the record, a must not write again.
                let writesWhileLeader = await keeperA.state.writes
                #expect(await keeperA.state.holding == false)
                #expect(await keeperA.state.isLeader == false)

                // b keeps renewing; a, no longer leader, does not fight for the record.
                let firstSuccess = try #require(await keeperB.state.lastSuccess)
                try await waitUntil("b to renew at least twice more") {
                    guard let last = await keeperB.state.lastSuccess else { return false }
                    return last > firstSuccess + store.keeperSettings().renewInterval
                }
                #expect(try await reader.read()?.record == b)
                #expect(await keeperB.state.lastError == nil)
                #expect(await keeperA.state.writes == writesWhileLeader)
                #expect(writesWhileLeader >= 1)
            }
        }
    }

    @Test(arguments: KVBackend.allCases)
    func recordOfALeaderThatStoppedExpiresWithItsTTL(on backend: KVBackend) async throws {
        try await KVStoreHarness.with(backend) { store in
            let reader = store.registry()
            let keeperA = keeper(store, nodeRecord("a", port: 4001))
            try await withKeepers([keeperA]) {
                await keeperA.leadershipChanged(isLeader: true)
                try await waitUntil("a to hold the record") { await keeperA.state.holding }
                await keeperA.leadershipChanged(isLeader: false)
                // No new leader: nobody renews, so the record goes once the TTL has passed.
                try await waitUntil("a's record to expire", timeout: .seconds(60), pollEvery: .milliseconds(100), retryingErrors: true) {
                    store.letTimePass()
                    return try await reader.read() == nil
                }
            }
        }
    }

    @Test(arguments: KVBackend.allCases)
    func overwrittenOrDeletedRecordIsRestored(on backend: KVBackend) async throws {
        try await KVStoreHarness.with(backend, etcdTTL: .seconds(60)) { store in
            let reader = store.registry()
            let a = nodeRecord("a", port: 4001)
            let keeperA = keeper(store, a)
            try await withKeepers([keeperA]) {
                await keeperA.leadershipChanged(isLeader: true)
                try await waitUntil("a to hold the record") { await keeperA.state.holding }

                let intruder = store.registry()
                let held = try #require(try await reader.read())
                let overwritten = try #require(try await intruder.update(nodeRecord("x", port: 7001), expectedVersion: held.version))
                try await waitUntil("a to restore the overwritten record", retryingErrors: true) {
                    guard let now = try await reader.read() else { return false }
                    return now.record == a && now.version > overwritten.version
                }

                // Take it again, then delete it by ending the intruder's session or lease.
                let restored = try #require(try await reader.read())
                _ = try #require(try await intruder.update(nodeRecord("x", port: 7001), expectedVersion: restored.version))
                try await intruder.release()
                try await waitUntil("a to restore the deleted record", retryingErrors: true) {
                    let holding = await keeperA.state.holding
                    let record = try await reader.read()?.record
                    return holding && record == a
                }
                #expect(await keeperA.state.writes >= 3)
            }
        }
    }

    @Test(arguments: KVBackend.allCases)
    func restartedLeaderAttachesItsOldRecordToItsNewSession(on backend: KVBackend) async throws {
        try await KVStoreHarness.with(backend, etcdTTL: .seconds(60)) { store in
            let reader = store.registry()
            let a = nodeRecord("a", port: 4001)
            // An earlier run of a wrote the record, then died without releasing it.
            guard case .created(let old) = try await store.registry().createIfAbsent(a) else {
                Issue.record("the store should have been empty")
                return
            }
            let keeperA = keeper(store, a)
            try await withKeepers([keeperA]) {
                await keeperA.leadershipChanged(isLeader: true)
                try await waitUntil("a to hold the record under its new session") { await keeperA.state.holding }
                let now = try #require(try await reader.read())
                #expect(now.record == a)
                #expect(now.version > old.version, "the record was rewritten under the new session or lease")
                #expect(await keeperA.state.record == now)
            }
        }
    }

    // MARK: Shutdown

    @Test(arguments: KVBackend.allCases)
    func shutdownReleasesTheRecord(on backend: KVBackend) async throws {
        try await KVStoreHarness.with(backend, etcdTTL: .seconds(60)) { store in
            let reader = store.registry()
            let keeperA = keeper(store, nodeRecord("a", port: 4001))
            await keeperA.leadershipChanged(isLeader: true)
            try await waitUntil("a to hold the record") { await keeperA.state.holding }
            await keeperA.shutdown()
            #expect(try await reader.read() == nil, "shutdown deletes the record at once, without waiting for the TTL")
            #expect(await keeperA.state.holding == false)

            // A keeper that was shut down ignores later leadership news.
            await keeperA.leadershipChanged(isLeader: true)
            #expect(await keeperA.state.isLeader == false)
            #expect(try await reader.read() == nil)
        }
    }

    // MARK: Store failures

    @Test(arguments: KVBackend.allCases)
    func unreachableStoreIsRetriedReportedAndRecoveredFrom(on backend: KVBackend) async throws {
        try await KVStoreHarness.with(backend) { store in
            let reader = store.registry()
            let flaky = store.registry()
            let (logger, sink) = capturingLogger()
            let a = nodeRecord("a", port: 4001)
            let keeperA = keeper(store, a, registry: flaky, logger: logger)
            try await withKeepers([keeperA]) {
                await keeperA.leadershipChanged(isLeader: true)
                try await waitUntil("a to hold the record") { await keeperA.state.holding }

                flaky.down.store(true, ordering: .relaxed)
                try await waitUntil("a to report the unreachable store") {
                    let state = await keeperA.state
                    return !state.holding && state.renewFailures > 0 && state.lastError?.contains("connection refused") == true
                }
                #expect(sink.lines.contains { $0.contains("level=warning") && $0.contains(flaky.name) && $0.contains("connection refused") })
                let callsWhileDown = flaky.calls.load(ordering: .relaxed)
                try await waitUntil("a to keep retrying") { flaky.calls.load(ordering: .relaxed) > callsWhileDown + 2 }

                // Meanwhile the session or lease runs out and the record is gone.
                try await waitUntil("the unrenewed record to expire", timeout: .seconds(60), pollEvery: .milliseconds(100),
                                    retryingErrors: true) {
                    store.letTimePass()
                    return try await reader.read() == nil
                }

                flaky.down.store(false, ordering: .relaxed)
                try await waitUntil("a to restore the record once the store is back", retryingErrors: true) {
                    let state = await keeperA.state
                    let record = try await reader.read()?.record
                    return state.holding && state.lastError == nil && record == a
                }
                #expect(sink.lines.contains { $0.contains("holding the leader record") && $0.contains("again") })
            }
        }
    }

    @Test func realEtcdGoingAwayIsReportedWithoutCrashing() async throws {
        let etcd = try await EtcdFixture.start()
        let client = HTTPClient()
        let registry = EtcdLeaderRegistry(gateway: EtcdGateway(endpoints: etcd.endpoints, timeout: .seconds(1), transport: client),
                                          discoKey: "disco", ttl: .seconds(2))
        let (logger, sink) = capturingLogger()
        let keeperA = LeaderRecordKeeper(registry: registry, me: nodeRecord("a", port: 4001),
                                         settings: .init(ttl: .seconds(2), maxBackoff: .milliseconds(200)), logger: logger)
        try await runThenCleanUp({
            await keeperA.leadershipChanged(isLeader: true)
            try await waitUntil("a to hold the record") { await keeperA.state.holding }
            #expect(keeperA.settings.renewInterval == .seconds(2) / 3, "renewals default to a third of the TTL")
            await etcd.stopMember(0)
            try await waitUntil("a to report that etcd is gone") {
                let state = await keeperA.state
                return !state.holding && state.renewFailures > 0 && state.lastError?.contains(etcd.endpoints[0]) == true
            }
            #expect(sink.lines.contains { $0.contains("level=warning") && $0.contains(registry.name) })
            await keeperA.shutdown()
            #expect(await keeperA.state.lastError?.contains("release failed") == true)
        }) {
            await keeperA.shutdown()
            await client.shutdown()
            await etcd.stop()
        }
    }
}
