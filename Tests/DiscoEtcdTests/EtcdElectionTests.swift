import DiscoCore
import Synchronization
import Testing
@testable import DiscoEtcd
import DiscoTestKit

/// etcd's election pattern against a real etcd: one leader at a time, in campaign order, with
/// strictly increasing terms, and a killed leader replaced.
@Suite(.serialized) struct EtcdElectionTests {
    struct Candidate: Sendable {
        let name: String
        let keeper: EtcdLeaseKeeper
        let election: EtcdElection
    }

    /// Who led, in order, and how many lead at the same moment.
    final class Tally: Sendable {
        let order = Mutex<[(String, Int64)]>([])
        let leading = Mutex(0)
    }

    func candidate(_ name: String, _ client: EtcdClient, ttl: Duration = .seconds(2)) async throws -> Candidate {
        let keeper = EtcdLeaseKeeper(client: client, ttl: ttl)
        try await keeper.grant()
        return Candidate(name: name, keeper: keeper, election: EtcdElection(client: client, prefix: "/e/election"))
    }

    @Test func candidatesLeadOneAtATimeInCampaignOrder() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            var candidates: [Candidate] = []
            for name in ["a", "b", "c", "d"] { candidates.append(try await candidate(name, client, ttl: .seconds(30))) }
            let tally = Tally()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for candidate in candidates {
                    group.addTask {
                        let won = try await candidate.election.campaign(value: [UInt8](candidate.name), keeper: candidate.keeper)
                        let concurrent = tally.leading.withLock { $0 += 1; return $0 }
                        #expect(concurrent == 1, "two candidates lead at once")
                        tally.order.withLock { $0.append((candidate.name, won.revision)) }
                        #expect(try await candidate.election.leader()?.text == candidate.name)
                        tally.leading.withLock { $0 -= 1 }
                        try await candidate.election.resign(won)
                    }
                    // Campaign in a known order: wait until this candidate's key is there (or it led already).
                    try await waitUntil("\(candidate.name)'s key", retryingErrors: true) {
                        try await client.get(candidate.election.key(lease: candidate.keeper.leaseID ?? 0)) != nil
                            || tally.order.withLock { $0.contains { $0.0 == candidate.name } }
                    }
                }
                try await group.waitForAll()
            }
            let led = tally.order.withLock { $0 }
            #expect(led.map(\.0) == ["a", "b", "c", "d"], "leaders follow campaign order")
            #expect(led.map(\.1) == led.map(\.1).sorted() && Set(led.map(\.1)).count == 4, "terms strictly increase")
        }
    }

    @Test func aKilledLeadersLeaseExpiresAndTheNextCandidateTakesOverWithAHigherTerm() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            let second = try await candidate("second", client, ttl: .seconds(30))
            let first = try await candidate("first", client, ttl: .seconds(5))
            // Renewed just before it campaigns: on a starved machine the 5 s since the grant
            // may have passed, and the keeper rightly counts its lease lost.
            try await first.keeper.renew()
            let firstTerm = try await first.election.campaign(value: [UInt8]("first"), keeper: first.keeper)
            // "first" is killed: it stops renewing. "second" waits for its key to expire.
            let secondTerm = try await second.election.campaign(value: [UInt8]("second"), keeper: second.keeper)
            #expect(secondTerm.revision > firstTerm.revision)
            #expect(try await second.election.leader()?.text == "second")
            #expect(try await first.election.stillLeads(firstTerm) == false)
            let fenced = try await client.txn(EtcdTxn(compare: [firstTerm.fence], success: [.put(key: "/e/data", value: [])]),
                                              operation: "write fenced by the old term")
            #expect(!fenced.succeeded, "the old leader's fenced write fails")
            let current = try await client.txn(EtcdTxn(compare: [secondTerm.fence], success: [.put(key: "/e/data", value: [])]),
                                               operation: "write fenced by the current term")
            #expect(current.succeeded)
        }
    }

    @Test func aCandidateWithoutALeaseIsRefused() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            let keeper = EtcdLeaseKeeper(client: client, ttl: .seconds(5))
            do throws(EtcdError) {
                _ = try await EtcdElection(client: client, prefix: "/e").campaign(value: [], keeper: keeper)
                Issue.record("campaigned without a lease")
            } catch {
                #expect(error.kind == .leaseLost(id: 0))
            }
        }
    }
}
