import DiscoCore
import DiscoLifecycle
import DiscoSystem
import DiscoTestKit
import HotCold
import LeaseCore
import Synchronization
import Testing

/// A replica's candidacy in the replicated state follows its latest announcement, also on a
/// follower, whose own writes commit on the leader before it applies them.
@Suite("Hot/cold candidacy announcements")
struct CandidacyAnnouncementTests {
    let logger = Logger(label: "test", level: .warning, handler: LogfmtHandler(sink: MemoryLogSink()))

    /// Healthy, unhealthy, healthy again on a follower: the last announcement was compared with
    /// the follower's applied entry, which still held the first (equal) value while the unhealthy
    /// one had committed but was not applied there yet, so it wrote nothing and the replica stayed
    /// unhealthy in the replicated state (every node's grantor passed it over; `/hot/move` to it
    /// answered 409 "its upstream is unhealthy"). Seen with three real sidecars whose upstreams
    /// failed a health check for a few seconds on a loaded machine.
    @Test func aFollowerWhoseHealthFlapsEndsWithItsLatestCandidacyReplicated() async throws {
        let cluster = InMemoryKeyValueCluster(leader: "a")
        let space = LaggingSpace(inner: cluster.space(for: "b"))
        let store = KeyValueLeaseTableStore(node: "b", space: space, logger: logger)
        let name = KeyValueLeaseTableStore.candidatePrefix("orders") + "b"

        await store.announce(LeaseCandidate(node: "b", healthy: true), in: "orders")
        space.catchUp()
        await store.announce(LeaseCandidate(node: "b", healthy: false), in: "orders")
        await store.announce(LeaseCandidate(node: "b", healthy: true), in: "orders")

        let entry = try #require(cluster.entry(name))
        let replicated = try LeaseRecord.decodeCandidate(entry.value, node: "b")
        #expect(replicated.healthy, "b announced itself healthy last, but the replicated candidacy says unhealthy")
    }

    /// The previous process announced itself unhealthy just before it stopped; the write
    /// committed on the leader, but the restarted node has not applied it yet and still reads
    /// the healthy candidacy before it. The new process, healthy, must not take that for its own
    /// and skip the write.
    @Test func aRestartedReplicaAnnouncesItselfEvenWhenItsStaleCopyLooksTheSame() async throws {
        let cluster = InMemoryKeyValueCluster(leader: "a")
        let name = KeyValueLeaseTableStore.candidatePrefix("orders") + "b"
        let before = KeyValueLeaseTableStore(node: "b", space: cluster.space(for: "b"), logger: logger)
        await before.announce(LeaseCandidate(node: "b", healthy: true), in: "orders")
        let healthyEntry = try #require(cluster.entry(name))
        await before.announce(LeaseCandidate(node: "b", healthy: false), in: "orders")

        let restarted = RestartedSpace(inner: cluster.space(for: "b"), stale: [name: healthyEntry])
        let store = KeyValueLeaseTableStore(node: "b", space: restarted, logger: logger)
        await store.announce(LeaseCandidate(node: "b", healthy: true), in: "orders")

        let entry = try #require(cluster.entry(name))
        #expect(try LeaseRecord.decodeCandidate(entry.value, node: "b").healthy,
                "the restarted replica announced itself healthy, but the replicated candidacy says unhealthy")
    }
}

/// A follower's space: a write it forwards commits on the leader (``put(_:_:ifRevision:)``
/// answers at once) before this node applies it. Reads show what was applied: the entries as of
/// the last ``catchUp()`` or successful ``waitUntilApplied(_:timeout:)``.
final class LaggingSpace: LeaseKeyValueSpace {
    let inner: InMemoryKeyValueCluster.Space
    private let applied = Mutex<[String: LeaseKeyValueEntry]>([:])

    init(inner: InMemoryKeyValueCluster.Space) { self.inner = inner }

    /// Applies everything committed so far.
    func catchUp() {
        let entries = inner.entries(prefix: "")
        applied.withLock { $0 = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last }) }
    }

    func entry(_ name: String) -> LeaseKeyValueEntry? { applied.withLock { $0[name] } }
    func entries(prefix: String) -> [LeaseKeyValueEntry] {
        applied.withLock { $0.values.filter { $0.name.hasPrefix(prefix) }.sorted { $0.name < $1.name } }
    }
    func put(_ name: String, _ value: [UInt8], ifRevision expected: UInt64) async -> LeaseKeyValueWrite {
        await inner.put(name, value, ifRevision: expected)
    }
    func delete(_ name: String, ifRevision expected: UInt64) async -> LeaseKeyValueWrite { await inner.delete(name, ifRevision: expected) }
    func watch(prefix: String, to deliver: @escaping @Sendable (LeaseKeyValueEvent) -> Void) async { await inner.watch(prefix: prefix, to: deliver) }
    func watchCluster(to deliver: @escaping @Sendable (LeaseClusterView) -> Void) async { await inner.watchCluster(to: deliver) }
    func waitUntilApplied(_ revision: UInt64, timeout: Duration) async -> Bool {
        guard await inner.waitUntilApplied(revision, timeout: timeout) else { return false }
        catchUp()
        return true
    }
}

/// A node that restarted: until it has caught up it reads an older applied state (``stale``)
/// than the cluster committed; ``waitUntilCaughtUp()`` brings it level.
final class RestartedSpace: LeaseKeyValueSpace {
    let inner: InMemoryKeyValueCluster.Space
    private let stale: Mutex<[String: LeaseKeyValueEntry]?>

    init(inner: InMemoryKeyValueCluster.Space, stale: [String: LeaseKeyValueEntry]) {
        self.inner = inner
        self.stale = Mutex(stale)
    }

    func entry(_ name: String) -> LeaseKeyValueEntry? {
        if let stale = stale.withLock({ $0 }) { return stale[name] }
        return inner.entry(name)
    }
    func entries(prefix: String) -> [LeaseKeyValueEntry] {
        if let stale = stale.withLock({ $0 }) { return stale.values.filter { $0.name.hasPrefix(prefix) }.sorted { $0.name < $1.name } }
        return inner.entries(prefix: prefix)
    }
    func put(_ name: String, _ value: [UInt8], ifRevision expected: UInt64) async -> LeaseKeyValueWrite {
        await inner.put(name, value, ifRevision: expected)
    }
    func delete(_ name: String, ifRevision expected: UInt64) async -> LeaseKeyValueWrite { await inner.delete(name, ifRevision: expected) }
    func watch(prefix: String, to deliver: @escaping @Sendable (LeaseKeyValueEvent) -> Void) async { await inner.watch(prefix: prefix, to: deliver) }
    func watchCluster(to deliver: @escaping @Sendable (LeaseClusterView) -> Void) async { await inner.watchCluster(to: deliver) }
    func waitUntilApplied(_ revision: UInt64, timeout: Duration) async -> Bool {
        guard await inner.waitUntilApplied(revision, timeout: timeout) else { return false }
        stale.withLock { $0 = nil }
        return true
    }
    func waitUntilCaughtUp() async { stale.withLock { $0 = nil } }
}
