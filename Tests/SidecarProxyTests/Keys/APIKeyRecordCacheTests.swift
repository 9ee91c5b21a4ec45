import DiscoCore
import SidecarProxy
import Synchronization
import Testing

// MARK: - Decoded key records, kept by revision

/// A key-value entry as the replicated state holds one, with a revision, and a decoder that
/// counts the times it runs (each a JSON parse and two base64 decodes).
private final class Entries: Sendable {
    private let entries = Mutex<[String: (revision: UInt64, value: [UInt8])]>([:])
    private let revision = Mutex<UInt64>(0)
    private let decodes = Mutex(0)
    let cache: APIKeyRecordCache

    init(capacity: Int = APIKeyRecordCache.defaultCapacity) { cache = APIKeyRecordCache(capacity: capacity) }

    /// Stores `record` under a new revision, as a transaction would.
    func put(_ record: APIKeyRecord) {
        let next = revision.withLock { $0 += 1; return $0 }
        entries.withLock { $0[record.appID] = (next, record.storedForm) }
    }

    func delete(_ appID: String) { entries.withLock { _ = $0.removeValue(forKey: appID) } }

    /// What a check of `appID` gets: the store's entry now, decoded through the cache.
    func record(_ appID: String) -> APIKeyRecord? {
        let entry = entries.withLock { $0[appID] }
        return cache.record(appID: appID, entry: entry) { bytes in
            decodes.withLock { $0 += 1 }
            return APIKeyRecord(storedForm: bytes, appID: appID)
        }
    }

    var decodeCount: Int { decodes.withLock { $0 } }
}

@Suite("Sidecar keys: records decoded once per revision, never stale")
struct APIKeyRecordCacheTests {
    static let key = "the-key-of-app1-0123456789abcdef"

    @Test func anUnchangedKeyIsDecodedOnce() throws {
        let entries = Entries()
        entries.put(try APIKeyRecord.hashing(appID: "app1", key: Self.key))
        for _ in 0..<100 {
            let record = try #require(entries.record("app1"))
            #expect(record.matches(Self.key) && !record.revoked && record.appID == "app1")
        }
        #expect(entries.decodeCount == 1, "an unchanged entry was parsed again")
    }

    @Test func aRevocationCountsForTheVeryNextLookup() throws {
        let entries = Entries()
        var record = try APIKeyRecord.hashing(appID: "app1", key: Self.key)
        entries.put(record)
        #expect(entries.record("app1")?.revoked == false)
        #expect(entries.record("app1")?.revoked == false)
        #expect(entries.cache.holds(appID: "app1"))
        record.revoked = true
        entries.put(record)
        #expect(entries.record("app1")?.revoked == true, "the cache answered the record from before the revocation")
        #expect(entries.record("app1")?.revoked == true)
        #expect(entries.decodeCount == 2)
    }

    @Test func aKeyAddedAgainIsTheNewKey() throws {
        let entries = Entries()
        var old = try APIKeyRecord.hashing(appID: "app1", key: Self.key)
        entries.put(old)
        #expect(entries.record("app1")?.matches(Self.key) == true)
        old.revoked = true
        entries.put(old)
        #expect(entries.record("app1")?.revoked == true)
        let newKey = "another-key-of-app1-0123456789ab"
        entries.put(try APIKeyRecord.hashing(appID: "app1", key: newKey))
        let record = try #require(entries.record("app1"))
        #expect(record.matches(newKey) && !record.revoked)
        #expect(!record.matches(Self.key), "the old key still passes after the new one was added")
    }

    @Test func aDeletedKeyIsGoneAtOnceAndForgotten() throws {
        let entries = Entries()
        entries.put(try APIKeyRecord.hashing(appID: "app1", key: Self.key))
        #expect(entries.record("app1") != nil)
        entries.delete("app1")
        #expect(entries.record("app1") == nil, "a deleted key is still answered")
        #expect(!entries.cache.holds(appID: "app1"))
        #expect(entries.cache.count == 0)
    }

    @Test func absentAppIDsAreNotKept() throws {
        let entries = Entries()
        entries.put(try APIKeyRecord.hashing(appID: "app1", key: Self.key))
        for index in 0..<1000 { #expect(entries.record("guess-\(index)") == nil) }
        #expect(entries.cache.count == 0, "app_ids the store does not hold take room")
        #expect(entries.decodeCount == 0)
        #expect(entries.record("app1") != nil)
        #expect(entries.cache.count == 1)
    }

    @Test func anEntryThatDoesNotDecodeIsNotKept() {
        let cache = APIKeyRecordCache()
        #expect(cache.record(appID: "app1", entry: (1, Array("not json".utf8))) { APIKeyRecord(storedForm: $0, appID: "app1") } == nil)
        #expect(cache.count == 0)
    }

    @Test func theCapacityIsHonoured() throws {
        let entries = Entries(capacity: 8)
        for index in 0..<50 { entries.put(try APIKeyRecord.hashing(appID: "app\(index)", key: Self.key)) }
        for index in 0..<50 {
            #expect(entries.record("app\(index)")?.appID == "app\(index)")
            #expect(entries.cache.count <= 8)
        }
        #expect(entries.cache.count == 8)
        // Every record is still answered right, kept or not.
        for index in 0..<50 { #expect(entries.record("app\(index)")?.matches(Self.key) == true) }
        #expect(entries.cache.count == 8)
    }

    /// The same revision with other bytes (a node whose state was replaced) is decoded anew.
    @Test func aRevisionIsTrustedOnlyWithItsBytes() throws {
        let cache = APIKeyRecordCache()
        let live = try APIKeyRecord.hashing(appID: "app1", key: Self.key)
        var revoked = live
        revoked.revoked = true
        #expect(cache.record(appID: "app1", entry: (7, live.storedForm)) { APIKeyRecord(storedForm: $0, appID: "app1") }?.revoked == false)
        #expect(cache.record(appID: "app1", entry: (7, revoked.storedForm)) { APIKeyRecord(storedForm: $0, appID: "app1") }?.revoked == true)
    }

    /// Lookups from many threads at once while the key is revoked and re-added: every answer is
    /// a record the store held, and once the last change is made every lookup sees it.
    @Test func concurrentLookupsSeeTheLatestEntry() async throws {
        let entries = Entries(capacity: 4)
        let live = try APIKeyRecord.hashing(appID: "app1", key: Self.key)
        entries.put(live)
        // More keys than the cache holds, looked up alongside: records come and go.
        for worker in 0..<4 {
            for index in 0..<7 { entries.put(try APIKeyRecord.hashing(appID: "other\(worker)-\(index)", key: Self.key)) }
        }
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for index in 0..<2000 {
                        let appID = index % 3 == 0 ? "app1" : "other\(worker)-\(index % 7)"
                        #expect(entries.record(appID)?.appID == appID)
                    }
                }
            }
            group.addTask {
                var changing = live
                for index in 0..<200 {
                    changing.revoked = index % 2 == 0
                    entries.put(changing)
                }
            }
        }
        var revoked = live
        revoked.revoked = true
        entries.put(revoked)
        #expect(entries.record("app1")?.revoked == true)
        #expect(entries.cache.count <= 4)
    }
}
