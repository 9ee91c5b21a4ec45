import DiscoCore
import Foundation
import Synchronization
import Testing
@testable import DiscoConsul
import DiscoTestKit

/// Where the Consul tests run: the in-process double by default, a real agent when
/// `CONSUL_HTTP_ADDR` is set (then time cannot be advanced and expiry is waited for).
struct ConsulTarget {
    let transport: any HTTPExchanging
    let settings: ConsulClient.Settings
    let clock: ManualClockTime?
    let keyPrefix: String

    static func make(token: String? = nil) -> ConsulTarget {
        let prefix = "disco-test-\(UInt32.random(in: 0...UInt32.max))"
        if let address = ProcessInfo.processInfo.environment["CONSUL_HTTP_ADDR"], !address.isEmpty {
            var settings = ConsulClient.Settings(address: address.replacingOccurrences(of: "http://", with: ""))
            settings.token = ProcessInfo.processInfo.environment["CONSUL_HTTP_TOKEN"]
            return ConsulTarget(transport: LoopbackHTTPExchange(), settings: settings, clock: nil, keyPrefix: prefix)
        }
        let clock = ManualClockTime()
        let double = ConsulKVDouble(token: token, now: { clock.now })
        var settings = ConsulClient.Settings(address: double.address)
        settings.token = token
        return ConsulTarget(transport: double, settings: settings, clock: clock, keyPrefix: prefix)
    }

    func registry(cluster: String = "c1", ttl: Duration = .seconds(10)) -> ConsulLeaderRegistry {
        ConsulLeaderRegistry(client: ConsulClient(settings: settings, transport: transport),
                             discoKey: "\(keyPrefix)/\(cluster)", ttl: ttl)
    }
}

/// Time a test advances by hand.
final class ManualClockTime: Sendable {
    private let value = Mutex(Duration.zero)
    var now: Duration { value.withLock { $0 } }
    func advance(_ by: Duration) { value.withLock { $0 += by } }
}

@Suite struct ConsulLeaderRegistryTests {
    func record(_ id: String) -> LeaderRecord {
        LeaderRecord(id: id, apiAddr: "http://10.0.0.\(id):4001", addr: "10.0.0.\(id):4002")
    }

    @Test func readOfMissingRecordIsNil() async throws {
        #expect(try await ConsulTarget.make().registry().read() == nil)
    }

    @Test func createIfAbsentRaceHasExactlyOneWinnerAmongTen() async throws {
        let target = ConsulTarget.make()
        let outcomes = try await withThrowingTaskGroup(of: LeaderClaim.self) { group in
            for writer in 1...10 {
                let registry = target.registry()
                group.addTask { try await registry.createIfAbsent(self.record("\(writer)")) }
            }
            return try await group.reduce(into: [LeaderClaim]()) { $0.append($1) }
        }
        let winners = outcomes.compactMap { claim -> VersionedLeaderRecord? in
            if case .created(let record) = claim { return record }
            return nil
        }
        #expect(winners.count == 1)
        let stored = try #require(try await target.registry().read())
        #expect(stored == winners.first)
        for case .existing(let seen) in outcomes { #expect(seen == stored) }
    }

    @Test func staleIndexCompareAndSetFails() async throws {
        let target = ConsulTarget.make()
        let registry = target.registry()
        guard case .created(let first) = try await registry.createIfAbsent(record("1")) else {
            Issue.record("expected to create the record")
            return
        }
        let second = try #require(try await registry.update(record("2"), expectedVersion: first.version))
        #expect(second.version > first.version)
        #expect(try await target.registry().update(record("3"), expectedVersion: first.version) == nil)
        #expect(try await registry.read()?.record.id == "2")
    }

    @Test func anotherWriterCanReplaceTheRecordWithTheCurrentIndex() async throws {
        let target = ConsulTarget.make()
        guard case .created(let first) = try await target.registry().createIfAbsent(record("1")) else {
            Issue.record("expected to create the record")
            return
        }
        let successor = target.registry()
        #expect(try await successor.update(record("2"), expectedVersion: first.version) != nil)
        #expect(try await successor.read()?.record == record("2"))
    }

    @Test func recordExpiresAfterItsWriterStopsRenewing() async throws {
        let target = ConsulTarget.make()
        let writer = target.registry()
        _ = try await writer.createIfAbsent(record("1"))
        if let clock = target.clock {
            clock.advance(.seconds(15))
            try await writer.renew()
            clock.advance(.seconds(15))
            #expect(try await writer.read() != nil, "renewed 15 s ago; Consul reaps at 2×TTL")
            clock.advance(.seconds(6))
            #expect(try await writer.read() == nil)
        } else {
            try await waitUntil("the record to expire on the real agent", timeout: .seconds(90), pollEvery: .milliseconds(500)) {
                try await writer.read() == nil
            }
        }
        await #expect(throws: LeaderRegistryError.self) { try await writer.renew() }
        guard case .created = try await target.registry().createIfAbsent(record("2")) else {
            Issue.record("a new writer can claim the record once the old one expired")
            return
        }
    }

    @Test func releaseDeletesTheRecord() async throws {
        let target = ConsulTarget.make()
        let writer = target.registry()
        _ = try await writer.createIfAbsent(record("1"))
        try await writer.release()
        #expect(try await writer.read() == nil)
    }

    @Test func twoClustersShareTheStoreUnderDifferentKeys() async throws {
        let target = ConsulTarget.make()
        _ = try await target.registry(cluster: "alpha").createIfAbsent(record("1"))
        guard case .created = try await target.registry(cluster: "beta").createIfAbsent(record("2")) else {
            Issue.record("the second cluster's key is independent")
            return
        }
        #expect(try await target.registry(cluster: "alpha").read()?.record.id == "1")
        #expect(try await target.registry(cluster: "beta").read()?.record.id == "2")
    }

    @Test func watchReturnsWhenTheRecordChanges() async throws {
        let target = ConsulTarget.make()
        let registry = target.registry()
        guard case .created(let first) = try await registry.createIfAbsent(record("1")) else {
            Issue.record("expected to create the record")
            return
        }
        async let changed = target.registry().watch(after: first.version, timeout: .seconds(30))
        _ = try await registry.update(record("2"), expectedVersion: first.version)
        #expect(try await changed?.record.id == "2")
    }

    @Test func missingTokenIsReportedAsUnauthorized() async throws {
        guard ProcessInfo.processInfo.environment["CONSUL_HTTP_ADDR"] == nil else { return }
        let target = ConsulTarget.make(token: "s3cret")
        var settings = target.settings
        settings.token = nil
        let registry = ConsulLeaderRegistry(client: ConsulClient(settings: settings, transport: target.transport), discoKey: "k")
        await #expect { try await registry.read() } throws: { error in
            (error as? DiscoveryError)?.kind == .unauthorized && "\(error)".contains("token")
        }
        #expect(try await target.registry().read() == nil, "the right token is accepted")
    }

    @Test func unreachableAgentIsATypedError() async throws {
        let double = ConsulKVDouble()
        double.reachable.store(false, ordering: .relaxed)
        let registry = ConsulLeaderRegistry(client: ConsulClient(settings: .init(address: double.address), transport: double),
                                            discoKey: "k")
        await #expect { try await registry.read() } throws: { error in
            (error as? DiscoveryError)?.kind == .unreachable
        }
    }
}
