import DiscoConsul
import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing
@testable import Bootstrap
@testable import DiscoEtcd

/// A node that lost the create-if-absent race opened a session or lease it never renews. When
/// its joins keep failing and the record it lost to expires, registering again must create the
/// record under a fresh session or lease, not keep offering the expired one.
@Suite(.serialized) struct KVRegistrationExpiredSessionTests {
    static let a = nodeRecord("a", port: 4001), b = nodeRecord("b", port: 5001)

    static func register(_ registry: any LeaderRegistry) async throws -> KVRegistration.Outcome {
        let retry = KVRetryPolicy(initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(100), deadline: nil, maxAttempts: 20)
        return try await KVRegistration(registry: registry, me: b, retry: retry, logger: capturingLogger().0, seed: 5).register()
    }

    @Test func etcdLeaseThatExpiredWhileTheNodeWaitedIsReplaced() async throws {
        let etcd = try await EtcdFixture.start()
        let client = HTTPClient()
        try await runThenCleanUp({
            let gateway = EtcdGateway(endpoints: etcd.endpoints, timeout: KVStoreHarness.requestTimeout, transport: client)
            // 5 s: the waiter must still find the winner's record after a stall of the machine.
            let winner = EtcdLeaderRegistry(gateway: gateway, discoKey: "disco", ttl: .seconds(5))
            let waiter = EtcdLeaderRegistry(gateway: gateway, discoKey: "disco", ttl: .seconds(5))
            _ = try await winner.createIfAbsent(Self.a)
            // The waiter loses the race: its create-if-absent grants a lease, then finds a's record.
            guard case .existing = try await waiter.createIfAbsent(Self.b) else {
                Issue.record("the waiter should find a's record")
                return
            }
            let lease = try await waiter.currentLease()
            // Nobody renews: a's record goes with its lease, and the waiter's lease runs out.
            try await waitUntil("a's record and the waiter's lease to expire", timeout: .seconds(60), pollEvery: .milliseconds(200),
                              retryingErrors: true) {
                let answer = try await gateway.call("/v3/lease/timetolive", ["ID": String(lease)], record: "lease")
                let record = try await winner.read()
                return record == nil && EtcdGateway.int64(answer["TTL"]) <= 0
            }
            guard case .bootstrapSingle(let created) = try await Self.register(waiter) else {
                Issue.record("with the record gone, the waiter should create it and bootstrap")
                return
            }
            #expect(created.record == Self.b)
            #expect(try await winner.read()?.record == Self.b)
        }) {
            await client.shutdown()
            await etcd.stop()
        }
    }

    @Test func consulSessionThatExpiredWhileTheNodeWaitedIsReplaced() async throws {
        let clock = ManualTime()
        let server = try await ConsulKVServer.start(double: ConsulKVDouble(now: { clock.now }))
        let client = HTTPClient()
        try await runThenCleanUp({
            let settings = ConsulClient.Settings(address: server.address)
            func registry() -> ConsulLeaderRegistry {
                ConsulLeaderRegistry(client: ConsulClient(settings: settings, transport: client), discoKey: "disco", ttl: .seconds(10))
            }
            let winner = registry(), waiter = registry()
            _ = try await winner.createIfAbsent(Self.a)
            guard case .existing = try await waiter.createIfAbsent(Self.b) else {
                Issue.record("the waiter should find a's record")
                return
            }
            // Both sessions were opened at the same (hand-moved) time: past 2×TTL both are reaped.
            clock.advance(.seconds(30))
            #expect(try await winner.read() == nil)
            guard case .bootstrapSingle(let created) = try await Self.register(waiter) else {
                Issue.record("with the record gone, the waiter should create it and bootstrap")
                return
            }
            #expect(created.record == Self.b)
            #expect(try await winner.read()?.record == Self.b)
        }) {
            await client.shutdown()
            await server.stop()
        }
    }
}
