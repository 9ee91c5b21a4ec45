import DiscoCore
import DiscoNet
import Sidecar
import Synchronization

// MARK: - The proxy, assembled

/// Everything the sidecar runs besides the node: the HTTP proxy behind its middleware (own
/// endpoints, rate limits, API keys, then the `key=app_id` limits), TCP listeners, upstream health checks and the writer's
/// whereabouts. ``start(configuration:nodeID:writer:keys:logger:background:)`` binds every
/// listener (a taken port fails the start); ``drain(within:)`` then ``shutdown()`` stop it.
public final class SidecarProxyServer: Sendable {
    public let configuration: ProxyConfiguration
    public let metrics: ProxyMetrics
    public let health: UpstreamHealth
    let proxy: ReverseProxy
    let server: HTTPServer?
    public let tcpListeners: [TCPProxyListener]
    /// The proxy's own event loops.
    let group: EventLoopGroup
    /// Runs the health checks, the TCP listeners and the caller's background work; cancelled
    /// and awaited by ``shutdown()``.
    private let background: Task<Void, Never>
    /// The certificates and CAs the proxy reloads (``reloadTLS(onlyIfChanged:)``).
    let tls: ProxyTLSStores
    let logger: Logger

    private init(configuration: ProxyConfiguration, metrics: ProxyMetrics, health: UpstreamHealth, proxy: ReverseProxy,
                 server: HTTPServer?, tcpListeners: [TCPProxyListener], group: EventLoopGroup, background: Task<Void, Never>,
                 tls: ProxyTLSStores, logger: Logger) {
        self.tls = tls
        self.logger = logger
        self.configuration = configuration
        self.metrics = metrics
        self.health = health
        self.proxy = proxy
        self.server = server
        self.tcpListeners = tcpListeners
        self.group = group
        self.background = background
    }

    /// Binds and starts.
    /// - Parameters:
    ///   - background: work that lives as long as the proxy (a ``LeaderWriterResolver``'s `run`).
    ///   - upstreamMiddleware: runs around requests forwarded to this sidecar's own upstreams
    ///     (not those sent on to the writer's sidecar).
    ///   - healthChanged: told whether every upstream is healthy, after each change.
    public static func start(configuration: ProxyConfiguration, nodeID: String, writer: any WriterResolver,
                             keys: any APIKeyStore = InMemoryAPIKeyStore(), logger: Logger,
                             upstreamMiddleware: [any HTTPMiddleware] = [],
                             healthChanged: @escaping @Sendable (_ allHealthy: Bool) -> Void = { _ in },
                             hops: HopAuthenticator? = nil,
                             background: [@Sendable () async -> Void] = []) async throws -> SidecarProxyServer {
        let group = try EventLoopGroup(threads: configuration.threads, name: "disco-proxy")
        let metrics = ProxyMetrics(routes: configuration.routeTable)
        let health = UpstreamHealth(upstreams: configuration.upstreams, interval: configuration.healthInterval,
                                    timeout: configuration.connectTimeout, logger: logger, changed: healthChanged)
        // A CA or server name of its own for the writer's proxy; otherwise the shared system client.
        let peer = configuration.peerTLS
        let writerTLS = peer.caCertificate != nil || peer.serverName != nil ? try ProxyTLS.writerClient(peer, logger: logger) : nil
        let serverTLS = try configuration.tls.map { files throws(ProxyTLSError) in try ProxyTLS.server(files, logger: logger) }
        let tls = ProxyTLSStores(server: serverTLS?.store, writerClient: writerTLS?.store)
        let check = configuration.apiKeys.enabled
            ? APIKeyMiddleware(settings: configuration.apiKeys, store: keys, metrics: metrics, logger: logger) : nil
        let proxy = ReverseProxy(configuration: configuration, nodeID: nodeID, writer: writer, health: health, metrics: metrics, logger: logger,
                                 proto: configuration.tls == nil ? "http" : "https", upstreamMiddleware: upstreamMiddleware,
                                 writerTLS: writerTLS, hops: hops, keys: check, group: group)
        var server: HTTPServer?
        var exchange: SharedZoneExchange?
        if let address = configuration.listenAddress {
            var settings = HTTPServerConfiguration(host: address.host, port: address.port, logger: logger)
            if let serverTLS { settings.transport = serverTLS }
            settings.limits.maxBodyBytes = 1 << 50
            settings.idleTimeout = configuration.clientIdleTimeout
            settings.abandonsRequestsOfClosedClients = !configuration.ignoresClientAbort
            // The edge's own refusals (a malformed request, a limit) are JSON like the proxy's others.
            settings.errorFormat = .json
            // ...and count as requests, under the route label of no route.
            settings.onRefusal = { metrics.serverRefused($0) }
            let counter = OpenConnectionCounter()
            let rateLimit = RateLimitMiddleware(configuration: configuration.rateLimit, apiKeys: configuration.apiKeys,
                                                metrics: metrics, logger: logger, provenHop: { proxy.isProvenHop($0) })
            if !configuration.rateLimit.sharedZones.isEmpty {
                guard let hops else { throw SidecarSyntaxError("shared rate-limit zones need a hop key (-proxy-hop-key)") }
                exchange = SharedZoneExchange(rateLimit: rateLimit, configuration: configuration.rateLimit, authenticator: hops, nodeID: nodeID,
                                              writer: writer, client: proxy.client, metrics: metrics, logger: logger)
            }
            var endpoints = SidecarEndpoints(health: health, writer: writer, metrics: metrics, openConnections: { counter.value })
            endpoints.exchange = exchange
            // Rate limits before the key check, as nginx's limit_req (preaccess) runs before access
            // checks: a request refused for its key is charged, and one the limiter refuses costs
            // no key check. Only key=app_id limits wait for the check (aroundAPIKeys): an accepted
            // key is charged to its application, a refused one to its client's address.
            var middleware: [any HTTPMiddleware] = [endpoints]
            if rateLimit.isActive { middleware.append(rateLimit) }
            if let check {
                middleware.append(rateLimit.isActive ? rateLimit.aroundAPIKeys(check) : check)
            }
            if configuration.inlineLane {
                settings.inlineHandler = ProxyInlineLane(proxy: proxy, keys: check, rateLimit: rateLimit.isActive ? rateLimit : nil,
                                                         takesHeadViews: configuration.inlineHeadViews)
            }
            let started = try await HTTPServer.start(configuration: settings, group: group, middleware: middleware, responder: proxy.responder)
            counter.server.withLock { $0 = started }
            proxy.ownAddresses.listening(on: started.localAddresses)
            server = started
        }
        var listeners: [TCPProxyListener] = []
        do {
            for spec in configuration.tcpProxies {
                listeners.append(try await TCPProxyListener(spec: spec, connectTimeout: configuration.connectTimeout,
                                                            idleTimeout: configuration.idleTimeout(of: spec), metrics: metrics,
                                                            logger: logger, group: group, among: proxy.ownAddresses.listeners))
            }
        } catch {
            listeners.forEach { $0.close() }
            await server?.shutdown(gracePeriod: .zero)
            throw error
        }
        var work: [@Sendable () async -> Void] = [{ await health.run() }, { await proxy.watchdog.run() }] + listeners.map { listener in { await listener.run() } } + background
        if let exchange { work.append { await exchange.run() } }
        if !tls.all.isEmpty { work.append { await tls.watch(every: configuration.tlsReloadInterval, logger: logger) } }
        let task = Task {
            await withDiscardingTaskGroup { group in
                for job in work { group.addTask { await job() } }
            }
        }
        if let address = server?.localAddress { logger.info("proxy listening", metadata: ["addr": .string(address.description)]) }
        return SidecarProxyServer(configuration: configuration, metrics: metrics, health: health, proxy: proxy, server: server,
                                  tcpListeners: listeners, group: group, background: task, tls: tls, logger: logger)
    }

    /// Reloads the proxy's certificate, key and CA files (all, or those that changed): new
    /// connections get what they hold now, open ones keep theirs. SIGHUP calls it; the files are
    /// also checked every ``ProxyConfiguration/tlsReloadInterval``.
    public func reloadTLS(onlyIfChanged: Bool = false) {
        tls.reload(onlyIfChanged: onlyIfChanged, logger: logger)
    }

    /// Where writes go, as this sidecar knows it now.
    public var writer: any WriterResolver { proxy.writer }

    /// Where the HTTP proxy listens (nil without one).
    public var localAddress: SocketAddress? { server?.localAddress }

    /// Connections the proxy has opened to upstreams and writers so far (keep-alive shows as
    /// fewer connections than requests).
    public var upstreamConnectionsOpened: Int {
        get async { await proxy.client.connectionsOpened }
    }

    /// Nil when the proxy is ready (every upstream healthy, the writer known), else why not.
    public var readinessProblem: String? {
        var reasons: [String] = []
        if let reason = health.notReadyReason { reasons.append(reason) }
        if case .unknown(let reason) = proxy.writer.current { reasons.append("writes cannot be routed: \(reason)") }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    /// The proxy's metrics in Prometheus's text format (without `process_*` when `process` is false).
    public func metricsText(process: Bool) -> String {
        metrics.prometheusText(openHTTPConnections: openConnections, health: health.all.map { ($0.upstream, $0.status.healthy) },
                               process: process)
    }

    /// Open client connections to the HTTP proxy.
    public var openConnections: Int { server?.openConnections ?? 0 }

    /// Stops accepting (HTTP and TCP) and lets in-flight requests and TCP connections finish,
    /// closing the HTTP ones left after `timeout` (TCP connections still open then end with
    /// ``shutdown()``).
    public func drain(within timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        tcpListeners.forEach { $0.close() }
        await server?.shutdown(gracePeriod: timeout)
        while tcpListeners.contains(where: { $0.openConnections > 0 }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Stops everything: background work, TCP connections, pooled upstream connections.
    public func shutdown() async {
        tcpListeners.forEach { $0.close() }
        await server?.shutdown(gracePeriod: .zero)
        background.cancel()
        await background.value
        await proxy.shutdown()
        group.shutdown()
    }
}

/// The server's open connections, for metrics built before the server exists.
final class OpenConnectionCounter: Sendable {
    let server = Mutex<HTTPServer?>(nil)
    var value: Int { server.withLock { $0?.openConnections ?? 0 } }
}
