import DiscoCore
import DiscoNet
import RateLimitCore
import Sidecar
import Synchronization

// MARK: - TCP pass-through

/// One `-tcp-proxy` listener: every accepted connection is spliced to a new connection to the
/// upstream (bytes both ways with back-pressure and half-close) until both sides end. Beyond
/// `max-conns` open connections, or beyond the connection rate and its burst (nginx
/// `limit_req` arithmetic, no delay), a new connection is closed at once; one closed for
/// `max-conns` is not charged to the rate. A connection that passes no bytes either way for the
/// idle timeout (nginx `proxy_timeout`) is closed, both sides, and its slot freed: a peer that
/// vanished without a FIN holds nothing for ever. Each connection is a
/// child task of ``run()``, so stopping the listener's task ends them all; ``close()`` only stops
/// accepting, and a failed accept (out of descriptors) is retried after a pause.
public final class TCPProxyListener: Sendable {
    public let spec: TCPProxySpec
    private let listener: TCPListener
    private let group: EventLoopGroup
    private let connectTimeout: Duration
    /// Closes a connection idle (no bytes either way) this long; nil: never.
    private let idleTimeout: Duration?
    private let metrics: ProxyMetrics
    private let logger: Logger
    private let open = Atomic<Int>(0)
    /// Set by ``close()``: an accept failing after it ends the accept loop.
    private let closed = Atomic<Bool>(false)
    private let limiter: Mutex<RateLimiter>
    private let limit: LimitReq
    private let epoch = ContinuousClock.now
    /// The addresses this listener accepts, and those of the sidecar's other listeners that
    /// would pass a connection back to it: an upstream connection never goes there (the start
    /// refuses such an upstream, but a name may come to resolve to this machine later, and a
    /// connection there would open another to the listener, and so on until descriptors ran out).
    private let ownAddresses: OwnListenerAddresses
    /// How long to wait after a failed accept before the next one.
    static let acceptRetryPause = Duration.milliseconds(100)

    /// Binds the listener (so its address is known and a taken port fails the start). A
    /// connection idle (no bytes either way) for `idleTimeout` is closed; nil: never. Without a
    /// `group`, the shared one (started now if it is not yet; a failure throws).
    public convenience init(spec: TCPProxySpec, connectTimeout: Duration, idleTimeout: Duration? = nil, metrics: ProxyMetrics,
                            logger: Logger, group: EventLoopGroup? = nil) async throws {
        try await self.init(spec: spec, connectTimeout: connectTimeout, idleTimeout: idleTimeout, metrics: metrics, logger: logger,
                            group: try group ?? EventLoopGroup.startShared(), among: SidecarListeners())
    }

    /// The same for one of a sidecar's `listeners`: a connection never goes to an address of one
    /// of them that would bring it back to this one.
    init(spec: TCPProxySpec, connectTimeout: Duration, idleTimeout: Duration?, metrics: ProxyMetrics, logger: Logger,
         group: EventLoopGroup, among listeners: SidecarListeners) async throws {
        self.spec = spec
        self.group = group
        listener = try await TCPListener.bind(host: spec.listen.host, port: spec.listen.port, group: group)
        ownAddresses = OwnListenerAddresses(name: "-tcp-proxy \(spec)", upstreams: [spec.upstream], among: listeners)
        ownAddresses.listening(on: [listener.localAddress])
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.metrics = metrics
        self.logger = logger
        let rate = spec.rate ?? LimitRate(requests: 1, per: .perSecond)
        limiter = Mutex(RateLimiter(zones: [LimitReqZone(name: "tcp", key: .address, rate: rate, size: LimitReqZone.minimumSize)]))
        limit = LimitReq(zone: 0, burst: spec.burst, delay: .nodelay)
    }

    /// The bound address (the port the kernel chose for port 0).
    public var localAddress: SocketAddress { listener.localAddress }

    /// Connections open right now.
    public var openConnections: Int { open.load(ordering: .relaxed) }

    /// Accepts and serves connections until the task is cancelled or ``close()`` is called; after
    /// ``close()`` it returns once the connections already spliced have ended.
    public func run() async {
        let name = spec.description
        await withDiscardingTaskGroup { group in
            while true {
                let connection: TCPConnection
                do {
                    connection = try await listener.accept()
                } catch {
                    if closed.load(ordering: .acquiring) || Task.isCancelled { break }
                    // A failed accept (no descriptor left, no memory) leaves the listener as it
                    // was: pause rather than spin on its readiness, then accept again.
                    logger.warning("TCP proxy \(spec): accept failed, retrying: \(error)")
                    try? await Task.sleep(for: Self.acceptRetryPause)
                    continue
                }
                guard admit() else {
                    metrics.tcpConnection(name, accepted: false)
                    connection.close()
                    continue
                }
                metrics.tcpConnection(name, accepted: true)
                group.addTask {
                    await self.serve(connection)
                    self.open.subtract(1, ordering: .relaxed)
                    self.metrics.openTCPConnections.subtract(1, ordering: .relaxed)
                }
            }
            // The connections already spliced go on; cancelling this task ends them.
        }
    }

    /// Stops accepting; connections already spliced go on until ``run()``'s task is cancelled.
    public func close() {
        closed.store(true, ordering: .releasing)
        listener.close()
    }

    /// Takes a `max-conns` slot, then charges the connection rate. A connection refused for
    /// want of a slot is not charged: a flood above max-conns would otherwise use up the rate's
    /// burst, and once slots freed, connections would be refused by the rate although few were
    /// ever let in. (nginx's stream module has no connection rate; in HTTP its `limit_req` runs
    /// before `limit_conn` and is not refunded, which this deliberately does not copy.)
    private func admit() -> Bool {
        let count = open.add(1, ordering: .relaxed).newValue
        if let maximum = spec.maxConnections, count > maximum {
            open.subtract(1, ordering: .relaxed)
            return false
        }
        if spec.rate != nil {
            let now = RateLimitMiddleware.milliseconds(ContinuousClock.now - epoch)
            let decision = limiter.withLock { $0.decide(limit, key: RateLimitKey("connections"), now: now) }
            if case .reject = decision.action {
                open.subtract(1, ordering: .relaxed)
                return false
            }
        }
        metrics.openTCPConnections.add(1, ordering: .relaxed)
        return true
    }

    private func serve(_ client: TCPConnection) async {
        let upstream: TCPConnection
        do {
            upstream = try await TCPConnection.connect(host: spec.upstream.host, port: spec.upstream.port, timeout: connectTimeout,
                                                       group: group, excluding: ownAddresses)
        } catch {
            logger.warning("TCP proxy \(spec): cannot connect to \(spec.upstream): \(error)")
            client.close()
            return
        }
        let outcome = await withTaskCancellationHandler {
            await client.splice(with: upstream, idleTimeout: idleTimeout)
        } onCancel: {
            client.close()
            upstream.close()
        }
        client.close()
        upstream.close()
        if outcome.idleTimedOut { metrics.spliceIdleClosed(.tcp) }
        if let failure = outcome.failure { logger.debug("TCP proxy \(spec): connection ended: \(failure)") }
    }
}
