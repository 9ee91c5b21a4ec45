import DiscoCore
import Foundation
import Testing
@testable import DiscoEtcd
import DiscoNet
import DiscoTestKit

/// The etcd-kv registry against a real etcd (Debian `etcd-server`), one member per test.
@Suite(.serialized) struct EtcdLeaderRegistryTests {
    func record(_ id: String) -> LeaderRecord {
        LeaderRecord(id: id, apiAddr: "http://10.0.0.\(id):4001", addr: "10.0.0.\(id):4002")
    }

    func registry(_ endpoints: [String], key: String = "disco", ttl: Duration = .seconds(10),
                  username: String? = nil, password: String? = nil) -> EtcdLeaderRegistry {
        EtcdLeaderRegistry(gateway: EtcdGateway(endpoints: endpoints, username: username, password: password,
                                                timeout: .seconds(30), transport: HTTPClient()),
                           discoKey: key, ttl: ttl)
    }

    func withEtcd(_ body: (EtcdFixture) async throws -> Void) async throws {
        let etcd = try await EtcdFixture.start()
        do {
            try await body(etcd)
        } catch {
            await etcd.stop()
            throw error
        }
        await etcd.stop()
    }

    @Test func createReadUpdateAndRaceAgainstRealEtcd() async throws {
        try await withEtcd { etcd in
            #expect(try await registry(etcd.endpoints).read() == nil)
            let outcomes = try await withThrowingTaskGroup(of: LeaderClaim.self) { group in
                for writer in 1...10 {
                    let candidate = registry(etcd.endpoints)
                    group.addTask { try await candidate.createIfAbsent(self.record("\(writer)")) }
                }
                return try await group.reduce(into: [LeaderClaim]()) { $0.append($1) }
            }
            let winners = outcomes.filter { if case .created = $0 { return true } else { return false } }
            #expect(winners.count == 1, "exactly one of ten concurrent writers creates the record")
            let stored = try #require(try await registry(etcd.endpoints).read())
            let updated = try #require(try await registry(etcd.endpoints).update(record("42"), expectedVersion: stored.version))
            #expect(updated.version > stored.version)
            #expect(try await registry(etcd.endpoints).update(record("43"), expectedVersion: stored.version) == nil,
                    "a compare-and-set with a stale revision fails")
            #expect(try await registry(etcd.endpoints).read()?.record == record("42"))
        }
    }

    @Test func recordExpiresWhenItsLeaseIsNotRenewed() async throws {
        try await withEtcd { etcd in
            let writer = registry(etcd.endpoints, ttl: .seconds(5))
            _ = try await writer.createIfAbsent(record("1"))
            #expect(try await writer.read() != nil)
            try await waitUntil("the lease to expire", timeout: .seconds(30), pollEvery: .milliseconds(200), retryingErrors: true) {
                try await writer.read() == nil
            }
            await #expect(throws: LeaderRegistryError.self) { try await writer.renew() }
        }
    }

    /// A renewal moves the record's expiry past the end of the TTL it was written with, by
    /// etcd's own lease clock (`/v3/lease/timetolive`), and leaves the record as written.
    ///
    /// No wall-clock gap is assumed: the TTL (60 s) is far longer than any stall of this task, and
    /// the expiries are compared as instants, not the TTLs left. Before the renewal the lease
    /// ends at most `TTL left + 1 s` after etcd's answer arrived, after it at least
    /// `TTL left - 1 s` after the question was sent (etcd answers whole seconds), and that is
    /// later. Without a working renewal both are the same expiry, which cannot pass that test.
    @Test func renewedRecordOutlivesItsTTL() async throws {
        try await withEtcd { etcd in
            let writer = registry(etcd.endpoints, ttl: .seconds(60))
            _ = try await writer.createIfAbsent(record("1"))
            let written = try #require(try await writer.read())
            let lease = try await writer.currentLease()
            let client = etcdClient(etcd.endpoints)
            // Unrenewed, the lease counts down: wait until etcd says 56 s or less are left.
            var left: Duration?
            var answered = ContinuousClock.now
            try await waitUntil("etcd to count the unrenewed lease down to 56 s", timeout: .seconds(55), pollEvery: .milliseconds(200),
                                retryingErrors: true) {
                left = try await client.timeToLive(lease: lease)
                answered = ContinuousClock.now
                return left.map { $0 <= .seconds(56) } ?? true
            }
            let leftBefore = try #require(left, "the lease expired within its 60 s TTL")
            let expiredBy = answered + leftBefore + .seconds(1)

            let asked = ContinuousClock.now
            try await writer.renew()
            let leftAfter = try #require(try await client.timeToLive(lease: lease), "the renewed lease expired")
            let expiresAfter = asked + leftAfter - .seconds(1)
            #expect(expiresAfter > expiredBy, "the renewal did not move the expiry: \(leftBefore) left before it, \(leftAfter) after")
            let kept = try await writer.read()
            #expect(kept?.record == record("1") && kept?.version == written.version, "the renewal keeps the record as written")

            try await writer.release()
            #expect(try await writer.read() == nil, "revoking the lease deletes the record")
        }
    }

    @Test func clustersUnderDifferentKeysAreIndependent() async throws {
        try await withEtcd { etcd in
            _ = try await registry(etcd.endpoints, key: "alpha").createIfAbsent(record("1"))
            guard case .created = try await registry(etcd.endpoints, key: "beta").createIfAbsent(record("2")) else {
                Issue.record("the beta cluster's record is independent of alpha's")
                return
            }
            #expect(try await registry(etcd.endpoints, key: "alpha").read()?.record.id == "1")
        }
    }

    @Test func failsOverToTheNextEndpoint() async throws {
        try await withEtcd { etcd in
            let refusing = try FreePort.Refusing()
            let dead = "http://127.0.0.1:\(refusing.port)"
            let writer = registry([dead] + etcd.endpoints)
            guard case .created = try await writer.createIfAbsent(record("1")) else {
                Issue.record("expected to create through the second endpoint")
                return
            }
            #expect(try await writer.read()?.record.id == "1")
        }
    }

    @Test func unreachableEndpointsAreATypedError() async throws {
        let refusing = try FreePort.Refusing()
        let dead = "http://127.0.0.1:\(refusing.port)"
        await #expect { try await registry([dead]).read() } throws: { error in
            guard let error = error as? DiscoveryError else { return false }
            return error.kind == .unreachable && error.record == "/disco/leader" && "\(error)".contains(dead)
        }
    }

    @Test func authenticatesWithUsernameAndPassword() async throws {
        try await withEtcd { etcd in
            let admin = EtcdGateway(endpoints: etcd.endpoints, transport: HTTPClient())
            _ = try await admin.call("/v3/auth/user/add", ["name": "root", "password": "pw"], record: "setup")
            _ = try await admin.call("/v3/auth/user/grant", ["user": "root", "role": "root"], record: "setup")
            _ = try await admin.call("/v3/auth/enable", [:], record: "setup")
            await #expect { try await registry(etcd.endpoints, username: "root", password: "wrong").read() } throws: { error in
                (error as? DiscoveryError)?.kind == .unauthorized
            }
            let writer = registry(etcd.endpoints, username: "root", password: "pw")
            _ = try await writer.createIfAbsent(record("7"))
            #expect(try await writer.read()?.record.id == "7")
        }
    }
}
