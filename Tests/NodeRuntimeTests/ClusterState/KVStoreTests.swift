import DiscoCore
@testable import NodeRuntime
import Testing

@Suite("Replicated key-value state")
struct KVStoreTests {
    static let a = KVKey("app", "a")
    static let b = KVKey("app", "b")

    @Test("a put creates a key at the log index; later puts keep its creation and move its revision")
    func putsAndRevisions() {
        var store = KVStore()
        #expect(store.apply(KVTransaction(operations: [.put(Self.a, json("1"))]), index: 5)
            == .committed(revision: 5, changes: [KVChange(key: Self.a, value: json("1"), revision: 5)]))
        _ = store.apply(KVTransaction(operations: [.put(Self.a, json("2"))]), index: 9)
        #expect(store.entry(Self.a) == KVEntry(key: Self.a, value: json("2"), created: 5, revision: 9))
        #expect(store.count == 1)
        #expect(store.bytes == 3 + 1 + 1)
    }

    @Test("compare-and-set: a stale revision writes nothing, not even the transaction's other keys")
    func compareAndSet() {
        var store = KVStore()
        #expect(store.apply(KVTransaction(conditions: [.absent(Self.a)], operations: [.put(Self.a, json("1"))]), index: 3).isCommitted)
        // A second create of the same key loses.
        #expect(store.apply(KVTransaction(conditions: [.absent(Self.a)], operations: [.put(Self.a, json("x")), .put(Self.b, json("x"))]), index: 4)
            == .conflict(key: Self.a, expected: 0, found: 3))
        #expect(store.entry(Self.b) == nil)
        #expect(store.entry(Self.a)?.value == json("1"))
        // An update at the current revision wins; one at the old revision then loses.
        #expect(store.apply(KVTransaction(conditions: [KVCondition(Self.a, revision: 3)], operations: [.put(Self.a, json("2"))]), index: 6).isCommitted)
        #expect(store.apply(KVTransaction(conditions: [KVCondition(Self.a, revision: 3)], operations: [.delete(Self.a)]), index: 7)
            == .conflict(key: Self.a, expected: 3, found: 6))
        #expect(store.entry(Self.a)?.revision == 6)
    }

    @Test("deletes report only keys that existed; a prefix delete takes the transaction's own earlier puts too")
    func deletes() {
        var store = KVStore()
        _ = store.apply(KVTransaction(operations: [.put(KVKey("c", "n1/x"), [1]), .put(KVKey("c", "n1/y"), [2]), .put(KVKey("c", "n2/x"), [3])]), index: 1)
        #expect(store.apply(KVTransaction(operations: [.delete(KVKey("c", "missing"))]), index: 2) == .committed(revision: 2, changes: []))
        let result = store.apply(KVTransaction(operations: [.put(KVKey("c", "n1/z"), [4]), .deletePrefix(namespace: "c", prefix: "n1/")]), index: 3)
        // n1/z was put and deleted by the same transaction: no change to report.
        #expect(result == .committed(revision: 3, changes: [
            KVChange(key: KVKey("c", "n1/x"), value: nil, revision: 3),
            KVChange(key: KVKey("c", "n1/y"), value: nil, revision: 3),
        ]))
        #expect(store.range(namespace: "c").map(\.key.name) == ["n2/x"])
        #expect(store.count == 1)
        #expect(store.bytes == 1 + 4 + 1)
        _ = store.apply(KVTransaction(operations: [.deletePrefix(namespace: "c", prefix: "")]), index: 4)
        #expect(store.count == 0)
        #expect(store.bytes == 0)
        #expect(store.sortedEntries.isEmpty)
    }

    @Test("range reads are per namespace, by name prefix, in name order")
    func ranges() {
        var store = KVStore()
        _ = store.apply(KVTransaction(operations: [.put(KVKey("x", "b2"), []), .put(KVKey("x", "a"), []), .put(KVKey("x", "b1"), []),
                                                   .put(KVKey("y", "b0"), [])]), index: 1)
        #expect(store.range(namespace: "x").map(\.key.name) == ["a", "b1", "b2"])
        #expect(store.range(namespace: "x", prefix: "b").map(\.key.name) == ["b1", "b2"])
        #expect(store.range(namespace: "z").isEmpty)
        #expect(store.sortedEntries.map(\.key.description) == ["x/a", "x/b1", "x/b2", "y/b0"])
    }

    @Test("a transaction that would pass the store's byte bound is refused whole; deletes still work beyond it")
    func byteBound() {
        var store = KVStore()
        let value = [UInt8](repeating: 7, count: KVLimits.maxValueBytes)
        var index: UInt64 = 0
        var refusal: String?
        while refusal == nil, index < 100 {
            index += 1
            let puts = (0..<KVLimits.maxOperations).map { KVOperation.put(KVKey("big", "\(index)-\($0)"), value) }
            if case .refused(let reason) = store.apply(KVTransaction(operations: puts), index: index) { refusal = reason }
        }
        #expect(refusal?.hasSuffix("bytes; the limit is \(KVLimits.maxBytes) bytes: delete keys first") == true, "\(String(describing: refusal))")
        #expect(store.bytes <= KVLimits.maxBytes)
        let before = store.count
        #expect(store.count == Int(index - 1) * KVLimits.maxOperations)
        #expect(store.apply(KVTransaction(operations: [.delete(KVKey("big", "1-0"))]), index: index + 1).isCommitted)
        #expect(store.count == before - 1)
    }

    @Test("the cluster state applies transactions, and its snapshot (version 5) keeps keys, revisions and member roles")
    func snapshotKeepsKeysAndRoles() throws {
        var state = ClusterState()
        _ = state.apply(.initialize(cluster: "prod", epoch: 1), index: 1)
        _ = state.apply(.upsertMember(ClusterMember(id: "n1", raftAddress: "a:1", apiAddress: "a:2", voter: true, roles: ["dns", "host"])), index: 2)
        #expect(state.apply(.kvTransaction(KVTransaction(operations: [.put(Self.a, json("1")), .put(KVKey("z.ns", "é/1"), [0, 255])])), index: 4)
            == .keyValue(.committed(revision: 4, changes: [KVChange(key: Self.a, value: json("1"), revision: 4),
                                                           KVChange(key: KVKey("z.ns", "é/1"), value: [0, 255], revision: 4)])))
        _ = state.apply(.kvTransaction(KVTransaction(operations: [.put(Self.a, json("2"))])), index: 7)
        let bytes = state.snapshotBytes()
        #expect(bytes[4] == 5)
        let restored = try ClusterState(snapshot: bytes)
        #expect(restored == state)
        #expect(restored.keyValues.entry(Self.a) == KVEntry(key: Self.a, value: json("2"), created: 4, revision: 7))
        #expect(restored.members["n1"]?.roles == ["dns", "host"])
    }

    @Test("a snapshot's key-value section is checked: order, revisions and the applied index")
    func snapshotChecks() throws {
        func body(_ entries: [(String, String, UInt64, UInt64)], applied: UInt64) -> [UInt8] {
            var writer = ClusterByteWriter()
            writer.bool(false)
            writer.u64(applied)
            writer.u32(0)  // members
            writer.u64(0)  // trimmedThrough
            writer.u64(0)  // events
            writer.u32(0)  // idempotency keys
            writer.u32(UInt32(entries.count))
            for (namespace, name, created, revision) in entries {
                writer.name(namespace)
                writer.name(name)
                writer.u64(created)
                writer.u64(revision)
                writer.blob([1])
            }
            return ClusterStateTests().wrap(writer.bytes, version: 4)
        }
        #expect(try ClusterState(snapshot: body([("a", "x", 1, 2), ("a", "y", 2, 2)], applied: 2)).keyValues.count == 2)
        let unsorted = ClusterStateTests().snapshotError(body([("a", "y", 1, 1), ("a", "x", 1, 1)], applied: 2))
        #expect(unsorted?.message == "expected keys in strictly ascending order, found a/x after a/y")
        let late = ClusterStateTests().snapshotError(body([("a", "x", 1, 3)], applied: 2))
        #expect(late?.message == "expected 1 ≤ created ≤ revision ≤ the applied index 2, found created 1, revision 3")
        let backwards = ClusterStateTests().snapshotError(body([("a", "x", 2, 1)], applied: 2))
        #expect(backwards?.field == "kv[0].revision")
        let badNamespace = ClusterStateTests().snapshotError(body([("A", "x", 1, 1)], applied: 2))
        #expect(badNamespace?.field == "kv[0].namespace")
    }

    @Test("version 3 snapshots (before roles and the key-value state) are still read")
    func versionThreeSnapshot() throws {
        var writer = ClusterByteWriter()
        writer.bool(false)
        writer.u64(9)
        writer.u32(1)
        ClusterMember(id: "n1", raftAddress: "a:1", apiAddress: "a:2", voter: true).encode(into: &writer, withRoles: false, withGeneration: false)
        writer.u64(0)
        writer.u64(0)
        writer.u32(0)
        let state = try ClusterState(snapshot: ClusterStateTests().wrap(writer.bytes, version: 3))
        #expect(state.members["n1"]?.roles == [])
        #expect(state.keyValues.count == 0)
        #expect(state.appliedIndex == 9)
    }
}
