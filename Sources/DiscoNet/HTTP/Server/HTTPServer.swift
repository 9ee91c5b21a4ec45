import Synchronization

// MARK: - HTTP/1.1 server

/// A strict HTTP/1.1 server on DiscoNet's event loops.
///
/// Keep-alive, pipelining (answered in order), sized and chunked bodies streamed to the handler
/// with back-pressure, `Expect: 100-continue`, limits with proper status codes, header-read and
/// idle timeouts, a connection cap, middleware, connection hand-off after `101 Switching
/// Protocols` or `CONNECT`, and graceful shutdown. Connections run over the configured
/// ``ByteStreamTransportFactory`` (plain TCP by default). See ``HTTPServerConfiguration``.
public final class HTTPServer: Sendable {
    /// The first bound address; with port 0 this holds the port the kernel chose.
    public var localAddress: SocketAddress { localAddresses[0] }
    /// Every bound address: a name such as `localhost` may resolve to both `127.0.0.1` and `::1`,
    /// and the server listens on each (on the same port).
    public let localAddresses: [SocketAddress]
    let shared: HTTPServerShared
    private let listeners: [HTTPListener]

    private init(shared: HTTPServerShared, listeners: [HTTPListener]) {
        self.localAddresses = listeners.map(\.localAddress)
        self.shared = shared
        self.listeners = listeners
    }

    /// Starts a server whose handler gets each request with its whole body (collected up to
    /// `configuration.limits.maxBodyBytes`), behind `middleware` (first element outermost).
    public static func start(
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        group: EventLoopGroup? = nil,
        middleware: [any HTTPMiddleware] = [],
        handler: @escaping HTTPHandler
    ) async throws -> HTTPServer {
        try await start(configuration: configuration, group: group, middleware: middleware,
                        responder: .collecting(upTo: configuration.limits.maxBodyBytes, handler))
    }

    /// Binds, listens and starts accepting on `group`'s loops; requests go through `middleware`
    /// (composed once, here; first element outermost) to `responder`. When the host resolves to
    /// several addresses, it listens on all that can be bound (at least one must be). An empty
    /// host or `::` listens on every interface: `[::]`, dual-stack, or `0.0.0.0` where IPv6 is
    /// off.
    public static func start(
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        group: EventLoopGroup? = nil,
        middleware: [any HTTPMiddleware] = [],
        responder: HTTPResponder
    ) async throws -> HTTPServer {
        let group = try group ?? EventLoopGroup.startShared()
        let addresses = try await SocketAddress.resolveAsync(host: configuration.host, port: configuration.port)
        let shared = HTTPServerShared(configuration: configuration, group: group, responder: responder.wrapped(in: middleware))
        let loop = group.loops[0]
        var listeners: [HTTPListener] = []
        var firstError: (any Error)?
        for resolved in addresses where !SocketAddress.isCoveredByDualStack(resolved, bound: listeners.map(\.localAddress)) {
            // With port 0, later addresses reuse the port the kernel chose for the first one.
            let port = listeners.first?.localAddress.port ?? resolved.port
            let address = SocketAddress(bytes: resolved.addressBytes, port: port, scopeID: resolved.scopeID)
            do {
                listeners.append(try await loop.submit { () throws -> HTTPListener in
                    try HTTPListener(address: address, loop: loop, shared: shared)
                })
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        guard !listeners.isEmpty else { throw firstError ?? SystemError(function: "bind", errno: 0) }
        return HTTPServer(shared: shared, listeners: listeners)
    }

    /// Connections accepted since start (including refused ones beyond the cap).
    public var acceptedConnections: Int { shared.accepted.load(ordering: .relaxed) }

    /// Connections refused because the process ran out of descriptors (answered 503 and closed).
    public var connectionsRefusedForDescriptors: Int { shared.refusedForDescriptors.load(ordering: .relaxed) }

    /// Connections currently open: those able to serve requests (a connection that has sent its
    /// final response and only waits for the peer to close is not counted) plus those handed
    /// off after a protocol switch whose handler still runs.
    public var openConnections: Int {
        shared.registry.withLock { $0.count } + shared.handedOff.withLock { $0.count }
    }

    /// Stops accepting, lets in-flight requests finish (their responses carry `Connection: close`),
    /// closes idle connections at once, and force-closes whatever is left after `gracePeriod`
    /// (hand-off connections included). Returns once every connection's handler task has
    /// returned: one still running then (a responder or hand-off that outlived its connection)
    /// is cancelled and awaited, so nothing the server started outlives it. The listening
    /// sockets are closed by then too (unless their loop stayed busy for all of `gracePeriod`):
    /// a connection attempt after this returns is refused, never taken into a backlog that
    /// nobody accepts from (a health check would read that as a live service).
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        shared.shuttingDown.store(true, ordering: .releasing)
        for listener in listeners {
            listener.loop.execute {
                listener.close()
                self.shared.listenersClosed.add(1, ordering: .releasing)
            }
        }
        for connection in shared.snapshot() {
            connection.loop.execute { connection.beginGracefulClose() }
        }
        let deadline = ContinuousClock.now + gracePeriod
        while openConnections > 0 || shared.listenersClosed.load(ordering: .acquiring) < listeners.count,
              ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        for connection in shared.snapshot() {
            connection.loop.execute {
                connection.closedByServer = true
                connection.closeNow()
            }
        }
        for connection in shared.handedOff.withLock({ Array($0.values) }) {
            connection.close()
        }
        await shared.handlerTasks.close()
        while openConnections > 0 {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}

// MARK: - State shared by the listener and every connection

/// Configuration, responder chain and counters shared across loops. Sendable: immutable lets,
/// atomics and mutex-guarded registries.
final class HTTPServerShared: Sendable {
    let configuration: HTTPServerConfiguration
    let group: EventLoopGroup
    let responder: HTTPResponder
    let accepted = Atomic<Int>(0)
    let refusedForDescriptors = Atomic<Int>(0)
    let shuttingDown = Atomic<Bool>(false)
    /// Listening sockets closed by ``HTTPServer/shutdown(gracePeriod:)`` (on their loops).
    let listenersClosed = Atomic<Int>(0)
    let registry = Mutex<[ObjectIdentifier: HTTPServerConnection]>([:])
    /// Connections handed off after a protocol switch, until their handler returns.
    let handedOff = Mutex<[ObjectIdentifier: TCPConnection]>([:])
    /// Every connection's handler task (one per connection, from its first request until it
    /// closes or its hand-off ends); ``HTTPServer/shutdown(gracePeriod:)`` cancels and awaits them.
    let handlerTasks = OwnedTasks()
    /// TLS handshakes sent to this plain HTTP port, logged now and then.
    let tlsHandshakeLog = HTTPTLSHandshakeLog()

    init(configuration: HTTPServerConfiguration, group: EventLoopGroup, responder: HTTPResponder) {
        self.configuration = configuration
        self.group = group
        self.responder = responder
    }

    /// Registers a connection unless the cap is reached; false means refuse it. Connections
    /// handed off after a protocol switch (a spliced WebSocket) count against the cap until
    /// their handler returns, as ``HTTPServer/openConnections`` counts them: they hold
    /// descriptors as much as any other.
    func admit(_ connection: HTTPServerConnection) -> Bool {
        let handedOffCount = handedOff.withLock { $0.count }
        return registry.withLock { connections in
            guard connections.count + handedOffCount < configuration.maxConnections else { return false }
            connections[ObjectIdentifier(connection)] = connection
            return true
        }
    }

    func remove(_ connection: HTTPServerConnection) {
        _ = registry.withLock { $0.removeValue(forKey: ObjectIdentifier(connection)) }
    }

    func snapshot() -> [HTTPServerConnection] {
        registry.withLock { Array($0.values) }
    }
}
