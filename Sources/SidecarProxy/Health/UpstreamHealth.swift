import DiscoCore
import DiscoNet
import Sidecar
import Synchronization

// MARK: - Health of the fronted services

/// Checks every upstream every `interval` (an HTTP GET of its health path answering 2xx or 3xx,
/// or a TCP connect when it has none) and remembers the outcome. Upstreams count as healthy
/// until their first check fails, and always when checks are off (interval zero). A proxied
/// exchange that fails asks for a check of its upstream at once (``checkSoon(_:)``), so a
/// service that stopped is routed around within a check, not an interval.
public final class UpstreamHealth: Sendable {
    /// One upstream's state.
    public struct Status: Hashable, Sendable {
        public var healthy: Bool
        /// Why it is unhealthy (or the last check's problem).
        public var reason: String?
        /// Checks run so far.
        public var checks: Int
    }

    private let upstreams: [UpstreamDefinition]
    private let interval: Duration
    private let timeout: Duration
    private let client: HTTPClient
    private let logger: Logger
    private let statuses: Mutex<[String: Status]>
    /// Each upstream's `healthy`, readable without the lock (written under it, with `statuses`).
    private let flags: [String: HealthFlag]
    private let changed: @Sendable (_ allHealthy: Bool) -> Void
    /// Held while a report is worked out and made: checks run in parallel, and two reports
    /// made outside it could reach `changed` in the other order than they were worked out (a
    /// stale "all healthy" last). Inside it, the last report made reads the state after the
    /// last change, which it follows.
    private let reporting = Mutex(())
    /// Upstreams whose check was asked for out of turn (``checkSoon(_:)``).
    private let soon = AsyncStream.makeStream(of: String.self, bufferingPolicy: .unbounded)

    /// - Parameter changed: told, after any upstream's health changed, whether all of them are
    ///   healthy now (called from the checking task; it must return at once).
    public init(upstreams: [UpstreamDefinition], interval: Duration, timeout: Duration, logger: Logger,
                changed: @escaping @Sendable (_ allHealthy: Bool) -> Void = { _ in }) {
        self.upstreams = upstreams
        self.changed = changed
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
        client = HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: timeout, requestTimeout: timeout, maxConnectionsPerHost: 1))
        statuses = Mutex(Dictionary(uniqueKeysWithValues: upstreams.map { ($0.name, Status(healthy: true, reason: nil, checks: 0)) }))
        flags = Dictionary(uniqueKeysWithValues: upstreams.map { ($0.name, HealthFlag()) })
    }

    /// `upstream`'s health as a flag to keep and read without a lookup (nil for unknown names,
    /// which ``isHealthy(_:)`` counts as healthy).
    func flag(for upstream: String) -> HealthFlag? { flags[upstream] }

    /// Whether requests may go to `upstream` (unknown names are healthy: routing reports them).
    public func isHealthy(_ upstream: String) -> Bool {
        statuses.withLock { $0[upstream]?.healthy ?? true }
    }

    /// Every upstream's status, in configuration order.
    public var all: [(upstream: String, status: Status)] {
        let snapshot = statuses.withLock { $0 }
        return upstreams.compactMap { upstream in snapshot[upstream.name].map { (upstream.name, $0) } }
    }

    /// Nil when every upstream is healthy, else why not (for `/readyz`).
    public var notReadyReason: String? {
        let unhealthy = all.filter { !$0.status.healthy }
        guard !unhealthy.isEmpty else { return nil }
        return unhealthy.map { "upstream \($0.upstream.debugDescription) is unhealthy: \($0.status.reason ?? "check failed")" }
            .joined(separator: "; ")
    }

    /// Checks every upstream once, all at the same time.
    public func checkAll() async {
        await withTaskGroup(of: Void.self) { group in
            for upstream in upstreams {
                group.addTask { await self.check(upstream) }
            }
        }
    }

    /// Asks for a check of `upstream` now, out of turn: an exchange with it failed. At most one
    /// such check waits per upstream (a burst of failures asks once); nothing happens when checks
    /// are off or the name is no upstream of this proxy's.
    public func checkSoon(_ upstream: String) {
        guard interval > .zero, let flag = flags[upstream],
              flag.checkAsked.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        soon.continuation.yield(upstream)
    }

    /// Checks every `interval`, and any upstream asked for by ``checkSoon(_:)`` at once, until the
    /// task is cancelled (returns at once when checks are off).
    public func run() async {
        guard interval > .zero else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await name in self.soon.stream {
                    // Cleared first: a failure during this check asks for one more after it.
                    self.flags[name]?.checkAsked.store(false, ordering: .relaxed)
                    if let upstream = self.upstreams.first(where: { $0.name == name }) { await self.check(upstream) }
                }
            }
            while !Task.isCancelled {
                await checkAll()
                try? await Task.sleep(for: interval)
            }
            soon.continuation.finish()
        }
        await client.shutdown()
    }

    private func check(_ upstream: UpstreamDefinition) async {
        let problem = await probe(upstream)
        let changed = statuses.withLock { statuses -> Bool in
            let before = statuses[upstream.name]?.healthy ?? true
            let checks = (statuses[upstream.name]?.checks ?? 0) + 1
            statuses[upstream.name] = Status(healthy: problem == nil, reason: problem, checks: checks)
            flags[upstream.name]?.healthy.store(problem == nil, ordering: .relaxed)
            return before != (problem == nil)
        }
        if changed {
            if let problem {
                logger.warning("upstream \(upstream.name) is unhealthy: \(problem)")
            } else {
                logger.info("upstream \(upstream.name) is healthy again")
            }
            reporting.withLock { _ in self.changed(notReadyReason == nil) }
        }
    }

    /// Nil when healthy, else what failed.
    private func probe(_ upstream: UpstreamDefinition) async -> String? {
        let address = upstream.address
        if let path = upstream.healthPath {
            do {
                let response = try await client.send(HTTPClientRequest(url: "http://\(address)\(path)"), timeout: timeout)
                return (200..<400).contains(response.status) ? nil : "GET \(path) answered \(response.status)"
            } catch {
                return "GET \(path): \(error)"
            }
        }
        do {
            let connection = try await TCPConnection.connect(host: address.host, port: address.port, timeout: timeout)
            connection.close()
            return nil
        } catch {
            return "cannot connect to \(address): \(error)"
        }
    }
}

/// One upstream's health, as ``UpstreamHealth`` last found it.
final class HealthFlag: Sendable {
    let healthy = Atomic<Bool>(true)
    /// Whether a check out of turn is waiting (``UpstreamHealth/checkSoon(_:)``).
    let checkAsked = Atomic<Bool>(false)

    var isHealthy: Bool { healthy.load(ordering: .relaxed) }
}
