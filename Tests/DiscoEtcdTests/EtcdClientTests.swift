import DiscoCore
import Testing
@testable import DiscoEtcd
import DiscoTestKit

/// The v3 client's key-value, transaction and lease calls against a real etcd.
@Suite(.serialized) struct EtcdClientTests {
    @Test func putGetRangeDeleteCarryRevisions() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            let first = try await client.put("/t/a", [UInt8]("1"))
            let second = try await client.put("/t/b", [UInt8]("2"))
            let third = try await client.put("/t/a", [UInt8]("3"))
            #expect(second == first + 1 && third == second + 1, "every write advances the store's revision by one")
            let a = try #require(try await client.get("/t/a"))
            #expect(a.text == "3" && a.createRevision == first && a.modRevision == third && a.version == 2)
            #expect(try await client.get("/t/missing") == nil)
            _ = try await client.put("/u/other", [UInt8]("x"))
            let range = try await client.range("/t/")
            #expect(range.kvs.map(\.key) == ["/t/a", "/t/b"], "a prefix range holds its keys in order and nothing else")
            #expect(range.revision == third + 1)
            let limited = try await client.range("/t/", limit: 1)
            #expect(limited.kvs.map(\.key) == ["/t/a"] && limited.more && limited.count == 2)
            let old = try await client.range("/t/a", prefix: false, revision: first)
            #expect(old.kvs.first?.text == "1", "a read at an older revision sees the older value")
            #expect(try await client.oldest(under: "/t/")?.key == "/t/a")
            #expect(try await client.oldest(under: "/t/", newest: true)?.key == "/t/b")
            #expect(try await client.delete("/t/", prefix: true) == 2)
            #expect(try await client.range("/t/").kvs.isEmpty)
            #expect(try await client.get("/u/other")?.text == "x")
        }
    }

    @Test func transactionsCompareEveryTarget() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            let created = try await client.txn(EtcdTxn(compare: [.absent("/k")], success: [.put(key: "/k", value: [UInt8]("v1"))],
                                                       failure: [.get(key: "/k")]), operation: "create")
            #expect(created.succeeded && created.results == [.put])
            let again = try await client.txn(EtcdTxn(compare: [.absent("/k")], success: [.put(key: "/k", value: [UInt8]("v2"))],
                                                     failure: [.get(key: "/k")]), operation: "create again")
            #expect(!again.succeeded, "create-if-absent fails once the key exists")
            guard case .get(let kvs)? = again.results.first else { Issue.record("the failure branch's range is missing"); return }
            #expect(kvs.first?.text == "v1" && kvs.first?.modRevision == created.revision)

            let stale = try await client.txn(EtcdTxn(compare: [EtcdCompare("/k", .modRevision(created.revision - 1))],
                                                     success: [.put(key: "/k", value: [UInt8]("no"))]), operation: "stale CAS")
            #expect(!stale.succeeded)
            let cas = try await client.txn(EtcdTxn(compare: [EtcdCompare("/k", .modRevision(created.revision)),
                                                             EtcdCompare("/k", .version(1)),
                                                             EtcdCompare("/k", .value([UInt8]("v1"))),
                                                             EtcdCompare("/k", .createRevision(created.revision))],
                                                   success: [.put(key: "/k", value: [UInt8]("v2")), .put(key: "/seq", value: [UInt8]("1"))]),
                                           operation: "CAS")
            #expect(cas.succeeded && cas.revision == created.revision + 1, "a transaction's puts share one revision")
            let wrongValue = try await client.txn(EtcdTxn(compare: [EtcdCompare("/k", .value([UInt8]("v1")))],
                                                          success: [.delete(key: "/k")]), operation: "value")
            #expect(!wrongValue.succeeded)
            let greater = try await client.txn(EtcdTxn(compare: [EtcdCompare("/k", .version(1), .greater)],
                                                       success: [.delete(key: "/k")]), operation: "version greater")
            #expect(greater.succeeded && greater.results == [.delete(deleted: 1)])
            #expect(try await client.get("/k") == nil)
            let onMissing = try await client.txn(EtcdTxn(compare: [EtcdCompare("/k", .value([]))], success: [.put(key: "/k", value: [])]),
                                                 operation: "value of a missing key")
            #expect(!onMissing.succeeded, "a value compare against a missing key is false")
        }
    }

    @Test func leaseKeysVanishWhenTheLeaseEndsAndErrorsNameEtcd() async throws {
        try await withEtcd { etcd in
            let client = etcdClient(etcd.endpoints)
            let (lease, ttl) = try await client.grantLease(ttl: .seconds(5))
            #expect(ttl == .seconds(5))
            try await client.put("/leased/a", [UInt8]("x"), lease: lease)
            #expect(try await client.get("/leased/a")?.lease == lease)
            #expect(try await client.keepAlive(lease: lease) == .seconds(5))
            #expect(try await client.timeToLive(lease: lease) != nil)
            try await waitUntil("the unrenewed lease to expire", timeout: .seconds(30), pollEvery: .milliseconds(100), retryingErrors: true) {
                try await client.get("/leased/a") == nil
            }
            #expect(try await client.timeToLive(lease: lease) == nil)
            do throws(EtcdError) {
                _ = try await client.keepAlive(lease: lease)
                Issue.record("renewing an expired lease succeeded")
            } catch {
                #expect(error.kind == .leaseLost(id: lease))
                #expect(error.description.hasPrefix("etcd "))
            }
            do throws(EtcdError) {
                try await client.put("/x", [], lease: 12345)
                Issue.record("a put under an unknown lease succeeded")
            } catch {
                #expect(error.kind == .rejected)
                #expect(error.description.contains(etcd.endpoints[0]) && error.description.contains("lease not found"),
                        "the error names etcd's endpoint and etcd's message: \(error)")
            }
            let (revoked, _) = try await client.grantLease(ttl: .seconds(60))
            try await client.put("/leased/b", [], lease: revoked)
            try await client.revokeLease(revoked)
            #expect(try await client.get("/leased/b") == nil, "revoking a lease deletes its keys at once")
            try await client.revokeLease(revoked)
        }
    }

    @Test func unreachableEtcdIsNamedWithEveryEndpoint() async throws {
        let port = try FreePort.loopback()
        let client = etcdClient(["http://127.0.0.1:\(port)"], timeout: .seconds(1))
        do throws(EtcdError) {
            _ = try await client.get("/a")
            Issue.record("a read from a closed port succeeded")
        } catch {
            #expect(error.kind == .unavailable && error.isTransient)
            #expect(error.description.contains("etcd http://127.0.0.1:\(port)") && error.description.contains("range /a"), "\(error)")
        }
    }

    @Test func callsFailOverToAnotherMemberAndRecoverAfterARestart() async throws {
        try await withEtcd(members: 3) { etcd in
            // Calls that must succeed get the default 30 s: the one after a member stopped may
            // wait for an election, which a loaded machine can stretch past 2 s. The write that
            // must fail for want of a quorum is bounded by 2 s (etcd itself would hold it longer).
            let client = etcdClient(etcd.endpoints)
            let quick = etcdClient(etcd.endpoints, timeout: .seconds(2))
            try await client.put("/f", [UInt8]("1"))
            await etcd.stopMember(0)
            try await client.put("/f", [UInt8]("2"))
            #expect(try await client.get("/f")?.text == "2", "the two remaining members answer")
            try await etcd.restartMember(0)
            await etcd.stopMember(1)
            await etcd.stopMember(2)
            do throws(EtcdError) {
                _ = try await quick.put("/f", [UInt8]("3"))
                Issue.record("a write without a quorum succeeded")
            } catch {
                #expect(error.isTransient, "no quorum is a transient failure: \(error)")
            }
            try await etcd.restartMember(1)
            try await waitUntil("writes to succeed once the quorum is back", timeout: .seconds(60), pollEvery: .milliseconds(200)) {
                (try? await quick.put("/f", [UInt8]("4"))) != nil
            }
            #expect(try await client.get("/f")?.text == "4")
        }
    }
}
