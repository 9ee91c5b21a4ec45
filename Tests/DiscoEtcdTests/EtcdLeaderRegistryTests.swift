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
            let writer = registry(etcd.endpoints, ttl: .seconds(2))
            _ = try await writer.createIfAbsent(record("1"))
            #expect(try await writer.read() != nil)
            try await waitUntil("the lease to expire", timeout: .seconds(30), pollEvery: .milliseconds(200)) {
                try await writer.read() == nil
            }
            await #expect(throws: LeaderRegistryError.self) { try await writer.renew() }
        }
    }

    @Test func renewedRecordOutlivesItsTTL() async throws {
        try await withEtcd { etcd in
            // 5 s: a loaded machine can run this task a couple of seconds late (a 2 s lease
            // expired between two renewals in a clean-clone run); the loop still outlives it.
            let ttl: Duration = .seconds(5)
            let writer = registry(etcd.endpoints, ttl: ttl)
            _ = try await writer.createIfAbsent(record("1"))
            let until = ContinuousClock.now + ttl + .milliseconds(1500)
            while ContinuousClock.now < until {
                try await writer.renew()
                #expect(try await writer.read()?.record.id == "1")
                try await Task.sleep(for: .milliseconds(300))  // renewal cadence, not synchronisation
            }
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
