import DiscoConsul
import DiscoCore
import DiscoSystem
import DiscoEtcd
import DiscoNet
import DiscoTestKit
import Synchronization
import Testing
import Bootstrap

// MARK: - KVBackend

/// The leader stores the KV tests run against: the in-memory registry, a real etcd (Debian
/// `etcd-server`) and the Consul double served over real HTTP.
enum KVBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory
    case etcd
    case consul

    var testDescription: String { rawValue }
}

// MARK: - KVStoreHarness

/// One running store and a way to make registries on it (each with its own session or lease).
///
/// Memory and the Consul double run on a hand-advanced clock, so their TTLs pass at once when a
/// test says so; etcd runs on real time with a 2 s lease, and tests poll for its expiry.
///
/// Requests to either store may take seconds on a loaded machine (etcd is another process; the
/// Consul double and the client run among hundreds of tests), so their timeouts only bound a
/// hang, and tests that poll a store retry a request that failed.
final class KVStoreHarness: Sendable {
    /// The timeout of every request to etcd or the Consul double.
    static let requestTimeout = Duration.seconds(10)

    let backend: KVBackend
    /// TTL of each registry's session or lease.
    let ttl: Duration
    private let clock: ManualTime?
    private let factory: @Sendable () -> any LeaderRegistry

    private init(backend: KVBackend, ttl: Duration, clock: ManualTime?, factory: @escaping @Sendable () -> any LeaderRegistry) {
        self.backend = backend
        self.ttl = ttl
        self.clock = clock
        self.factory = factory
    }

    /// Runs `body` against a fresh store of `backend`, stopping it afterwards. etcd runs on real
    /// time: `etcdTTL` is short for tests of expiry, long for tests where a record must not
    /// expire while a loaded machine runs them.
    static func with(_ backend: KVBackend, etcdTTL: Duration = .seconds(2),
                     _ body: (KVStoreHarness) async throws -> Void) async throws {
        switch backend {
        case .memory:
            let clock = ManualTime()
            let store = InMemoryLeaderStore(now: { clock.now })
            try await body(KVStoreHarness(backend: backend, ttl: .seconds(10), clock: clock) {
                InMemoryLeaderRegistry(store: store, key: "disco/leader", ttl: .seconds(10))
            })
        case .etcd:
            let etcd = try await EtcdFixture.start()
            let client = HTTPClient()
            let endpoints = etcd.endpoints
            let harness = KVStoreHarness(backend: backend, ttl: etcdTTL, clock: nil) {
                EtcdLeaderRegistry(gateway: EtcdGateway(endpoints: endpoints, timeout: requestTimeout, transport: client),
                                   discoKey: "disco", ttl: etcdTTL, pollInterval: .milliseconds(100))
            }
            try await runThenCleanUp({ try await body(harness) }) {
                await client.shutdown()
                await etcd.stop()
            }
        case .consul:
            let clock = ManualTime()
            let server = try await ConsulKVServer.start(double: ConsulKVDouble(now: { clock.now }))
            let client = HTTPClient()
            let settings = {
                var settings = ConsulClient.Settings(address: server.address)
                settings.timeout = requestTimeout
                return settings
            }()
            let harness = KVStoreHarness(backend: backend, ttl: .seconds(10), clock: clock) {
                ConsulLeaderRegistry(client: ConsulClient(settings: settings, transport: client), discoKey: "disco", ttl: .seconds(10))
            }
            try await runThenCleanUp({ try await body(harness) }) {
                await client.shutdown()
                await server.stop()
            }
        }
    }

    /// A new registry (its own session or lease) whose failures a test can switch on.
    func registry() -> FlakyLeaderRegistry { FlakyLeaderRegistry(factory()) }

    /// Moves the hand clock a quarter of the TTL (on etcd real time moves by itself). Tests
    /// call it on every poll while waiting for an expiry: a session nobody renews expires after
    /// a few polls (Consul reaps after 2×TTL), one that is still renewed keeps being extended.
    func letTimePass() {
        clock?.advance(ttl / 4)
    }

    /// Keeper settings suited to this store: renewals well within the TTL, quick retries.
    func keeperSettings() -> LeaderRecordKeeper.Settings {
        LeaderRecordKeeper.Settings(ttl: ttl, renewInterval: backend == .etcd ? .milliseconds(500) : .milliseconds(100),
                                   initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))
    }
}

/// Runs `cleanup` after `body`, whether it threw or not, then rethrows.
func runThenCleanUp(_ body: () async throws -> Void, _ cleanup: () async -> Void) async rethrows {
    do {
        try await body()
    } catch {
        await cleanup()
        throw error
    }
    await cleanup()
}

// MARK: - ManualTime

/// Time a test advances by hand.
final class ManualTime: Sendable {
    private let value = Mutex(Duration.zero)
    var now: Duration { value.withLock { $0 } }
    func advance(_ by: Duration) { value.withLock { $0 += by } }
}

// MARK: - FlakyLeaderRegistry

/// Wraps a registry so a test can make the store unreachable and bring it back.
final class FlakyLeaderRegistry: LeaderRegistry {
    let inner: any LeaderRegistry
    /// While true, every call fails as if the store were down.
    let down = Atomic<Bool>(false)
    /// The next this-many calls fail, then calls go through again.
    let failNext = Atomic<Int>(0)
    /// Calls made, failed or not.
    let calls = Atomic<Int>(0)
    /// The next this-many create-if-absent calls reach the store, and then their answer is
    /// lost (a timeout after the store applied the write).
    let loseCreateAnswers = Atomic<Int>(0)

    init(_ inner: any LeaderRegistry) { self.inner = inner }

    var name: String { inner.name }

    private func gate() throws {
        calls.add(1, ordering: .relaxed)
        var injected = down.load(ordering: .relaxed)
        if !injected {
            var remaining = failNext.load(ordering: .relaxed)
            while remaining > 0 {
                let (exchanged, original) = failNext.compareExchange(expected: remaining, desired: remaining - 1, ordering: .relaxed)
                if exchanged {
                    injected = true
                    break
                }
                remaining = original
            }
        }
        if injected { throw LeaderRegistryError(registry: name, message: "connection refused (store made unreachable by the test)") }
    }

    func read() async throws -> VersionedLeaderRecord? {
        try gate()
        return try await inner.read()
    }

    func createIfAbsent(_ record: LeaderRecord) async throws -> LeaderClaim {
        try gate()
        let claim = try await inner.createIfAbsent(record)
        if loseCreateAnswers.load(ordering: .relaxed) > 0 {
            loseCreateAnswers.subtract(1, ordering: .relaxed)
            throw LeaderRegistryError(registry: name, message: "no answer within the deadline (the test lost the store's answer)")
        }
        return claim
    }

    func update(_ record: LeaderRecord, expectedVersion: UInt64) async throws -> VersionedLeaderRecord? {
        try gate()
        return try await inner.update(record, expectedVersion: expectedVersion)
    }

    func renew() async throws {
        try gate()
        try await inner.renew()
    }

    func holds(_ record: VersionedLeaderRecord) async throws -> Bool {
        try gate()
        return try await inner.holds(record)
    }

    func release() async throws {
        try gate()
        try await inner.release()
    }

    func watch(after version: UInt64?, timeout: Duration) async throws -> VersionedLeaderRecord? {
        try gate()
        return try await inner.watch(after: version, timeout: timeout)
    }
}

// MARK: - Records and logs

/// A node's record: `api_addr` as a URL, `addr` as `host:port`.
func nodeRecord(_ id: String, port: UInt16) -> LeaderRecord {
    LeaderRecord(id: id, apiAddr: "http://127.0.0.1:\(port)", addr: "127.0.0.1:\(port + 1)")
}

/// A logger whose lines a test can read.
func capturingLogger() -> (Logger, MemoryLogSink) {
    let sink = MemoryLogSink()
    return (Logger(label: "kv", level: .debug, handler: LogfmtHandler(sink: sink)), sink)
}
