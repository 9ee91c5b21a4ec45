import DiscoCore
import Foundation
import Synchronization
import Testing
@testable import DiscoConsul
import DiscoNet
import DiscoTestKit

/// Where the Consul tests run: the double in process, the double over real HTTP through
/// DiscoNet's client, or a real agent when `CONSUL_HTTP_ADDR` is set (then time cannot be
/// advanced and expiry is waited for).
enum ConsulTransport: String, CaseIterable, Sendable {
    case inProcess
    case http
}

struct ConsulTarget {
    let transport: any HTTPExchanging
    let settings: ConsulClient.Settings
    let clock: ManualClockTime?
    let keyPrefix: String

    /// Runs `body` against a fresh target, stopping any server afterwards.
    static func with(_ kind: ConsulTransport, token: String? = nil,
                     _ body: (ConsulTarget) async throws -> Void) async throws {
        let prefix = "disco-test-\(UInt32.random(in: 0...UInt32.max))"
        if let address = ProcessInfo.processInfo.environment["CONSUL_HTTP_ADDR"], !address.isEmpty {
            var settings = ConsulClient.Settings(address: address.replacingOccurrences(of: "http://", with: ""))
            settings.token = ProcessInfo.processInfo.environment["CONSUL_HTTP_TOKEN"]
            try await body(ConsulTarget(transport: HTTPClient(), settings: settings, clock: nil, keyPrefix: prefix))
            return
        }
        let clock = ManualClockTime()
        let double = ConsulKVDouble(token: token, now: { clock.now })
        switch kind {
        case .inProcess:
            var settings = ConsulClient.Settings(address: double.address)
            settings.token = token
            try await body(ConsulTarget(transport: double, settings: settings, clock: clock, keyPrefix: prefix))
        case .http:
            let server = try await ConsulKVServer.start(double: double)
            var settings = ConsulClient.Settings(address: server.address)
            settings.token = token
            // A generous deadline: it bounds a hang; a loaded machine (the whole suite starting
            // at once) can take seconds to answer.
            settings.timeout = .seconds(30)
            let client = HTTPClient()
            do {
                try await body(ConsulTarget(transport: client, settings: settings, clock: clock, keyPrefix: prefix))
            } catch {
                await client.shutdown()
                await server.stop()
                throw error
            }
            await client.shutdown()
            await server.stop()
        }
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

    @Test(arguments: ConsulTransport.allCases)
    func readOfMissingRecordIsNil(via kind: ConsulTransport) async throws {
        try await ConsulTarget.with(kind) { target in
            let record = try await target.registry().read()
            #expect(record == nil)
        }
    }

    @Test(arguments: ConsulTransport.allCases)
    func createIfAbsentRaceHasExactlyOneWinnerAmongTen(via kind: ConsulTransport) async throws {
        try await ConsulTarget.with(kind) { target in
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
    }

    @Test(arguments: ConsulTransport.allCases)
    func staleIndexCompareAndSetFails(via kind: ConsulTransport) async throws {
        try await ConsulTarget.with(kind) { target in
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
    }

    @Test(arguments: ConsulTransport.allCases)
    func anotherWriterCanReplaceTheRecordWithTheCurrentIndex(via kind: ConsulTransport) async throws {
        try await ConsulTarget.with(kind) { target in
            guard case .created(let first) = try await target.registry().createIfAbsent(record("1")) else {
                Issue.record("expected to create the record")
                return
            }
            let successor = target.registry()
            #expect(try await successor.update(record("2"), expectedVersion: first.version) != nil)
            #expect(try await successor.read()?.record == record("2"))
        }
    }

    @Test(arguments: ConsulTransport.allCases)
    func recordExpiresAfterItsWriterStopsRenewing(via kind: ConsulTransport) async throws {
        try await ConsulTarget.with(kind) { target in
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
    }

    @Test(arguments: ConsulTransport.allCases)
    func releaseDeletesTheRecord(via kind: ConsulTransport) async throws {
        try await ConsulTarget.with(kind) { target in
            let writer = target.registry()
            _ = try await writer.createIfAbsent(record("1"))
            try await writer.release()
            #expect(try await writer.read() == nil)
        }
    }

    @Test(arguments: ConsulTransport.allCases)
    func twoClustersShareTheStoreUnderDifferentKeys(via kind: ConsulTransport) async throws {
        try await ConsulTarget.with(kind) { target in
            _ = try await target.registry(cluster: "alpha").createIfAbsent(record("1"))
            guard case .created = try await target.registry(cluster: "beta").createIfAbsent(record("2")) else {
                Issue.record("the second cluster's key is independent")
                return
            }
            #expect(try await target.registry(cluster: "alpha").read()?.record.id == "1")
            #expect(try await target.registry(cluster: "beta").read()?.record.id == "2")
        }
    }

    @Test(arguments: ConsulTransport.allCases)
    func watchReturnsWhenTheRecordChanges(via kind: ConsulTransport) async throws {
        try await ConsulTarget.with(kind) { target in
            let registry = target.registry()
            guard case .created(let first) = try await registry.createIfAbsent(record("1")) else {
                Issue.record("expected to create the record")
                return
            }
            async let changed = target.registry().watch(after: first.version, timeout: .seconds(30))
            _ = try await registry.update(record("2"), expectedVersion: first.version)
            #expect(try await changed?.record.id == "2")
        }
    }

    @Test(arguments: ConsulTransport.allCases)
    func missingTokenIsReportedAsUnauthorized(via kind: ConsulTransport) async throws {
        guard ProcessInfo.processInfo.environment["CONSUL_HTTP_ADDR"] == nil else { return }
        try await ConsulTarget.with(kind, token: "s3cret") { target in
            var settings = target.settings
            settings.token = nil
            let registry = ConsulLeaderRegistry(client: ConsulClient(settings: settings, transport: target.transport), discoKey: "k")
            await #expect { try await registry.read() } throws: { error in
                (error as? DiscoveryError)?.kind == .unauthorized && "\(error)".contains("token")
            }
            let record = try await target.registry().read()
            #expect(record == nil, "the right token is accepted")
        }
    }

    @Test func unreachableAgentIsATypedErrorNamingTheServer() async throws {
        let refusing = try FreePort.Refusing()
        let client = HTTPClient()
        let registry = ConsulLeaderRegistry(client: ConsulClient(settings: .init(address: "127.0.0.1:\(refusing.port)"), transport: client),
                                            discoKey: "k")
        await #expect { try await registry.read() } throws: { error in
            guard let error = error as? DiscoveryError else { return false }
            return error.kind == .unreachable && "\(error)".contains("127.0.0.1:\(refusing.port)") && error.record == "k/leader"
        }
        await client.shutdown()
    }
}
