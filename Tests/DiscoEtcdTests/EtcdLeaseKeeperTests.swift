import DiscoCore
import Testing
@testable import DiscoEtcd
import DiscoTestKit

/// The lease keeper against a real etcd: renewal keeps keys, loss is noticed before etcd expires it.
@Suite(.serialized) struct EtcdLeaseKeeperTests {
    @Test func renewingKeepsTheLeaseAliveBeyondItsTTL() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            let keeper = EtcdLeaseKeeper(client: client, ttl: .seconds(5))
            let id = try await keeper.grant()
            try await client.put("/kept", [], lease: id)
            let expiresWithout = ContinuousClock.now + .seconds(6)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { _ = await keeper.run() }
                try await waitUntil("three renewals, past the TTL", timeout: .seconds(60)) {
                    if case .lost(_, let reason) = keeper.phase { throw EtcdError(.leaseLost(id: id), endpoint: "", operation: "test", message: reason) }
                    return keeper.renewals >= 3 && ContinuousClock.now > expiresWithout
                }
                group.cancelAll()
            }
            #expect(keeper.isValid && keeper.leaseID == id)
            #expect(try await client.get("/kept") != nil, "a renewed lease's key outlives the TTL")
            await keeper.revoke()
            #expect(try await client.get("/kept") == nil)
            #expect(keeper.phase == .none)
        }
    }

    @Test func aLeaseEtcdForgotIsLostAtTheNextRenewal() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            let keeper = EtcdLeaseKeeper(client: client, ttl: .seconds(30))
            let id = try await keeper.grant()
            try await client.revokeLease(id)
            let reason = await keeper.run()
            #expect(reason != nil && !keeper.isValid)
            guard case .lost(let lostID, _) = keeper.phase else { Issue.record("phase \(keeper.phase)"); return }
            #expect(lostID == id)
        }
    }

    @Test func whileEtcdIsDownTheHolderGivesUpBeforeEtcdCouldExpireTheLease() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints, timeout: .milliseconds(500))
            let keeper = EtcdLeaseKeeper(client: client, ttl: .seconds(2))
            let id = try await keeper.grant()
            try await keeper.renew()
            let lastSuccessfulSend = keeper.deadline  // send time + TTL - margin
            await etcd.stopMember(0)
            let reason = await keeper.run()
            let noticed = ContinuousClock.now
            #expect(reason != nil, "the keeper stops once the deadline passes")
            #expect(!keeper.isValid && keeper.leaseID == nil)
            // Lost no later than a retry interval after the deadline, which itself is a margin
            // before the earliest instant etcd could expire the lease.
            #expect(noticed >= lastSuccessfulSend)
            #expect(keeper.deadline + keeper.safetyMargin > lastSuccessfulSend, "the deadline never exceeds send time + TTL")
            try await etcd.restartMember(0)
            do throws(EtcdError) {
                try await keeper.renew()
                Issue.record("a lost lease came back")
            } catch {
                #expect(error.kind == .leaseLost(id: id) || error.kind == .leaseLost(id: 0))
            }
        }
    }
}
