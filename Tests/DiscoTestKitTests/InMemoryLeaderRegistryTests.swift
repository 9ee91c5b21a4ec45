import Synchronization
import Testing
import DiscoCore
@testable import DiscoTestKit

@Suite struct InMemoryLeaderRegistryTests {
    final class ManualTime: Sendable {
        let value = Mutex(Duration.zero)
        func advance(_ by: Duration) { value.withLock { $0 += by } }
    }

    let record = LeaderRecord(id: "1", apiAddr: "http://h1:4001", addr: "h1:4002")

    @Test func createIfAbsentHasExactlyOneWinner() async throws {
        let store = InMemoryLeaderStore()
        let registries = (0..<10).map { _ in InMemoryLeaderRegistry(store: store, key: "disco/leader") }
        var created = 0
        for (index, registry) in registries.enumerated() {
            let claim = try await registry.createIfAbsent(LeaderRecord(id: "\(index)", apiAddr: "a", addr: "b"))
            if case .created = claim { created += 1 }
        }
        #expect(created == 1)
        #expect(try await registries[5].read()?.record.id == "0")
    }

    @Test func staleVersionFailsCompareAndSet() async throws {
        let registry = InMemoryLeaderRegistry(store: InMemoryLeaderStore(), key: "k")
        guard case .created(let first) = try await registry.createIfAbsent(record) else {
            Issue.record("expected to create")
            return
        }
        let second = try await registry.update(LeaderRecord(id: "2", apiAddr: "x", addr: "y"), expectedVersion: first.version)
        #expect(second != nil)
        #expect(try await registry.update(record, expectedVersion: first.version) == nil)
    }

    @Test func recordExpiresWhenNotRenewed() async throws {
        let time = ManualTime()
        let store = InMemoryLeaderStore(now: { time.value.withLock { $0 } })
        let writer = InMemoryLeaderRegistry(store: store, key: "k", ttl: .seconds(10))
        _ = try await writer.createIfAbsent(record)
        time.advance(.seconds(6))
        try await writer.renew()
        time.advance(.seconds(6))
        #expect(try await writer.read() != nil, "renewed 6 s ago with a 10 s TTL")
        time.advance(.seconds(5))
        #expect(try await writer.read() == nil, "11 s since the last renewal")
        await #expect(throws: LeaderRegistryError.self) { try await writer.renew() }
    }

    @Test func keysAreIndependent() async throws {
        let store = InMemoryLeaderStore()
        _ = try await InMemoryLeaderRegistry(store: store, key: "a/leader").createIfAbsent(record)
        #expect(try await InMemoryLeaderRegistry(store: store, key: "b/leader").read() == nil)
    }
}

@Suite struct LeaderRecordJSONTests {
    @Test func encodesInRqlitesFieldOrderWithEscaping() {
        let record = LeaderRecord(id: "n\"1", apiAddr: "http://h:4001", addr: "h:4002")
        #expect(String(decoding: record.jsonBytes, as: UTF8.self) == #"{"id":"n\"1","api_addr":"http://h:4001","addr":"h:4002"}"#)
        #expect(LeaderRecord(json: record.jsonBytes) == record)
    }

    @Test func decodesRqlitesOmittedFieldsAndIgnoresUnknownOnes() {
        let record = LeaderRecord(json: Array(#"{"id":"1","addr":"h:4002","extra":[1,2]}"#.utf8))
        #expect(record == LeaderRecord(id: "1", apiAddr: "", addr: "h:4002"))
    }

    @Test(arguments: [#"[]"#, #"{"id":1}"#, #"{"id":"1""#, "not json"])
    func rejectsWhatIsNotARecord(text: String) {
        #expect(LeaderRecord(json: Array(text.utf8)) == nil)
    }
}
