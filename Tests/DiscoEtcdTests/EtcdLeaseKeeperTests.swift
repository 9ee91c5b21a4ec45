import DiscoCore
import Testing
@testable import DiscoEtcd
import DiscoTestKit

/// The lease keeper against a real etcd: renewal keeps keys, loss is noticed before etcd expires it.
@Suite(.serialized) struct EtcdLeaseKeeperTests {
    /// Up to three attempts: a machine stalled for longer than the lease's margin makes an
    /// attempt inconclusive (the keeper then rightly reports the lease lost); a keeper that loses
    /// a lease without such a stall, or never renews, fails every attempt.
    @Test func renewingKeepsTheLeaseAliveBeyondItsTTL() async throws {
        try await withEtcd { etcd in
            var outcomes: [String] = []
            for _ in 1...3 {
                let client = etcdClient(etcd.endpoints)
                let keeper = EtcdLeaseKeeper(client: client, ttl: .seconds(5))
                let id = try await keeper.grant()
                try await client.put("/kept", [], lease: id)
                let expiresWithout = ContinuousClock.now + .seconds(6)
                var lostReason: String?
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { _ = await keeper.run() }
                    try await waitUntil("three renewals, past the TTL", timeout: .seconds(60)) {
                        if case .lost(_, let reason) = keeper.phase {
                            lostReason = reason
                            return true
                        }
                        return keeper.renewals >= 3 && ContinuousClock.now > expiresWithout
                    }
                    group.cancelAll()
                }
                if let lostReason {
                    outcomes.append(lostReason)
                    #expect(lostReason.contains("after the lease's deadline") || lostReason.contains("before its deadline"),
                            "a lease lost for another reason: \(lostReason)")
                    continue
                }
                #expect(keeper.isValid && keeper.leaseID == id)
                #expect(try await client.get("/kept") != nil, "a renewed lease's key outlives the TTL")
                await keeper.revoke()
                #expect(try await client.get("/kept") == nil)
                #expect(keeper.phase == .none)
                return
            }
            Issue.record("three attempts inconclusive (the machine stalled past the lease's deadline each time): \(outcomes)")
        }
    }

    /// etcd answers "no such lease" both when something dropped the lease and when it expired
    /// it, which it does no earlier than our deadline: before the deadline the keeper gives
    /// etcd's reason, past it the missed deadline.
    @Test(arguments: [false, true]) func aLeaseEtcdForgotIsLostAtTheNextRenewal(pastTheDeadline: Bool) async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            let keeper = EtcdLeaseKeeper(client: client, ttl: .seconds(pastTheDeadline ? 2 : 30))
            let id = try await keeper.grant()
            try await client.revokeLease(id)
            if pastTheDeadline {
                try await waitUntil("the keeper's deadline to pass") { ContinuousClock.now >= keeper.deadline }
            }
            let reason = await keeper.run()
            #expect(reason != nil && !keeper.isValid)
            guard case .lost(let lostID, let lostReason) = keeper.phase else { Issue.record("phase \(keeper.phase)"); return }
            #expect(lostID == id)
            #expect(lostReason.contains("no longer knows"), "\(lostReason)")
            #expect(lostReason.hasPrefix("not renewed before its deadline") == pastTheDeadline, "\(lostReason)")
        }
    }

    @Test func whileEtcdIsDownTheHolderGivesUpBeforeEtcdCouldExpireTheLease() async throws {
        try await withEtcd { etcd in
            // The short timeout is the keeper's while etcd is down; a machine stalled past it
            // while etcd is still up makes setting up inconclusive, so that is retried.
            let client = etcdClient(etcd.endpoints, timeout: .milliseconds(500))
            var established: (keeper: EtcdLeaseKeeper, id: Int64)?
            for _ in 1...5 where established == nil {
                established = try await grantedAndRenewed(EtcdLeaseKeeper(client: client, ttl: .seconds(2)))
            }
            guard let (keeper, id) = established else {
                Issue.record("etcd answered no grant and renewal within 0.5 s in five attempts")
                return
            }
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

    /// Grants and renews once; nil when etcd did not answer in time (a stalled machine), so the
    /// caller can try again. Any other failure is the test's.
    private func grantedAndRenewed(_ keeper: EtcdLeaseKeeper) async throws -> (keeper: EtcdLeaseKeeper, id: Int64)? {
        do {
            let id = try await keeper.grant()
            try await keeper.renew()
            return (keeper, id)
        } catch {
            guard error.kind == .unavailable else { throw error }
            return nil
        }
    }
}
