import DiscoCore
import DiscoLifecycle
import DiscoSystem
import DiscoTestKit
import HotCold
import LeaseCore
import Synchronization
import Testing

/// Candidacies that no longer stand: a node that moved to another group withdraws its old one
/// when it starts, and the candidacies of nodes removed from the cluster are not candidates.
@Suite("Stale hot/cold candidacies")
struct CandidacyCleanupTests {
    static let timeout: Duration = .seconds(30)
    let logger = Logger(label: "test", level: .warning, handler: LogfmtHandler(sink: MemoryLogSink()))

    func store(_ cluster: InMemoryKeyValueCluster, _ node: NodeID) -> KeyValueLeaseTableStore {
        KeyValueLeaseTableStore(node: node, space: cluster.space(for: node), logger: logger)
    }

    @Test func aReplicaThatMovedToAnotherGroupWithdrawsItsOldCandidacyWhenItStarts() async throws {
        let cluster = InMemoryKeyValueCluster(leader: "a")
        let orders = KeyValueLeaseTableStore.candidatePrefix("orders")
        await store(cluster, "b").announce(LeaseCandidate(node: "b"), in: "orders")
        await store(cluster, "c").announce(LeaseCandidate(node: "c"), in: "orders")
        #expect(cluster.entry(orders + "b") != nil)
        // b starts again, now serving `ledger`.
        var configuration = HotColdConfiguration()
        configuration.group = "ledger"
        let shell = HotColdLease(node: "b", configuration: configuration, store: store(cluster, "b"), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await shell.run() }
            try await waitUntil("b's orders candidacy withdrawn, its ledger one announced", timeout: Self.timeout) {
                cluster.entry(orders + "b") == nil && cluster.entry(KeyValueLeaseTableStore.candidatePrefix("ledger") + "b") != nil
            }
            #expect(cluster.entry(orders + "c") != nil, "another node's candidacy stays")
            shell.stop()
            try await tasks.waitForAll()
        }
    }

    /// A restarted node applies what it wrote before only once it has replayed its log. The
    /// withdrawal looked at once, found no candidacy of its own yet and withdrew nothing, for
    /// good (a node's HotColdRegroupTests timed out so under load); it now waits until caught up.
    @Test func aCandidacyAppliedOnlyAfterTheRestartIsWithdrawnToo() async throws {
        let cluster = InMemoryKeyValueCluster(leader: "a")
        let orders = KeyValueLeaseTableStore.candidatePrefix("orders")
        await store(cluster, "b").announce(LeaseCandidate(node: "b"), in: "orders")
        let replaying = ReplayingSpace(inner: cluster.space(for: "b"))
        let restarted = KeyValueLeaseTableStore(node: "b", space: replaying, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { await restarted.withdrawCandidacies(exceptIn: "ledger") }
            try await waitUntil("the withdrawal to wait for the replay", timeout: Self.timeout) { replaying.waited.isOpen }
            replaying.replayed.open()
            try await tasks.waitForAll()
        }
        #expect(cluster.entry(orders + "b") == nil, "the candidacy applied after the restart was not withdrawn")
    }

    @Test func aNodeRemovedFromTheClusterIsNoCandidateEvenWhileAlive() async throws {
        let cluster = InMemoryKeyValueCluster(leader: "a")
        await store(cluster, "b").announce(LeaseCandidate(node: "b"), in: "orders")
        await store(cluster, "z").announce(LeaseCandidate(node: "z", priority: 9), in: "orders")
        let seen = Seen()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { [store = store(cluster, "a")] in
                await store.deliverEvents(for: "orders") { event in
                    if case .candidates(let list) = event { seen.nodes.withLock { $0 = list.map(\.node) } }
                }
            }
            try await waitUntil("a to see b and z", timeout: Self.timeout) { seen.nodes.withLock { $0 } == ["b", "z"] }
            cluster.setRemoved("z", true)
            try await waitUntil("z left out once removed", timeout: Self.timeout) { seen.nodes.withLock { $0 } == ["b"] }
            cluster.setRemoved("z", false)
            try await waitUntil("z back once a member again", timeout: Self.timeout) { seen.nodes.withLock { $0 } == ["b", "z"] }
            tasks.cancelAll()
        }
    }
}

/// The candidates a grantor was last told of.
private final class Seen: Sendable {
    let nodes = Mutex<[NodeID]>([])
}

/// A node's space right after a restart: it shows nothing until its log is replayed
/// (``replayed``), and ``waited`` opens once someone waits for that.
struct ReplayingSpace: LeaseKeyValueSpace {
    let inner: InMemoryKeyValueCluster.Space
    let replayed = Latch()
    let waited = Latch()

    func entry(_ name: String) -> LeaseKeyValueEntry? { replayed.isOpen ? inner.entry(name) : nil }
    func entries(prefix: String) -> [LeaseKeyValueEntry] { replayed.isOpen ? inner.entries(prefix: prefix) : [] }
    func put(_ name: String, _ value: [UInt8], ifRevision expected: UInt64) async -> LeaseKeyValueWrite {
        await inner.put(name, value, ifRevision: expected)
    }
    func delete(_ name: String, ifRevision expected: UInt64) async -> LeaseKeyValueWrite { await inner.delete(name, ifRevision: expected) }
    func watch(prefix: String, to deliver: @escaping @Sendable (LeaseKeyValueEvent) -> Void) async { await inner.watch(prefix: prefix, to: deliver) }
    func watchCluster(to deliver: @escaping @Sendable (LeaseClusterView) -> Void) async { await inner.watchCluster(to: deliver) }
    func waitUntilApplied(_ revision: UInt64, timeout: Duration) async -> Bool { await inner.waitUntilApplied(revision, timeout: timeout) }
    func waitUntilCaughtUp() async {
        waited.open()
        await replayed.wait()
    }
}
