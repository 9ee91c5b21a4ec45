import Synchronization

// MARK: - HTTP/1.1 server

/// Handles one request and returns its response. Runs on the connection's event loop thread
/// unless it awaits something elsewhere; it must not block the thread (no blocking syscalls).
public typealias HTTPHandler = @Sendable (HTTPRequest) async -> HTTPResponse

/// A strict HTTP/1.1 server on DiscoNet's event loops.
///
/// Keep-alive, pipelining (answered in order), sized and chunked bodies, `Expect: 100-continue`,
/// limits with proper status codes, header-read and idle timeouts, a connection cap, and graceful
/// shutdown. See ``HTTPServerConfiguration``.
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

    /// Binds, listens and starts accepting on `group`'s loops. When the host resolves to several
    /// addresses, it listens on all that can be bound (at least one must be).
    public static func start(
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        group: EventLoopGroup = .shared,
        handler: @escaping HTTPHandler
    ) async throws -> HTTPServer {
        let addresses = try await SocketAddress.resolveAsync(host: configuration.host, port: configuration.port)
        let shared = HTTPServerShared(configuration: configuration, group: group, handler: handler)
        let loop = group.loops[0]
        var listeners: [HTTPListener] = []
        var firstError: (any Error)?
        for resolved in addresses {
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

    /// Connections currently open and able to serve requests (a connection that has sent its
    /// final response and only waits for the peer to close is not counted).
    public var openConnections: Int { shared.registry.withLock { $0.count } }

    /// Stops accepting, lets in-flight requests finish (their responses carry `Connection: close`),
    /// closes idle connections at once, and force-closes whatever is left after `gracePeriod`.
    public func shutdown(gracePeriod: Duration = .seconds(10)) async {
        shared.shuttingDown.store(true, ordering: .releasing)
        for listener in listeners {
            listener.loop.execute { listener.close() }
        }
        for connection in shared.snapshot() {
            connection.loop.execute { connection.beginGracefulClose() }
        }
        let deadline = ContinuousClock.now + gracePeriod
        while openConnections > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        for connection in shared.snapshot() {
            connection.loop.execute { connection.closeNow() }
        }
        while openConnections > 0 {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}

// MARK: - State shared by the listener and every connection

/// Configuration, handler and counters shared across loops. Sendable: immutable lets, atomics and
/// a mutex-guarded registry.
final class HTTPServerShared: Sendable {
    let configuration: HTTPServerConfiguration
    let group: EventLoopGroup
    let handler: HTTPHandler
    let accepted = Atomic<Int>(0)
    let shuttingDown = Atomic<Bool>(false)
    let registry = Mutex<[ObjectIdentifier: HTTPServerConnection]>([:])

    init(configuration: HTTPServerConfiguration, group: EventLoopGroup, handler: @escaping HTTPHandler) {
        self.configuration = configuration
        self.group = group
        self.handler = handler
    }

    /// Registers a connection unless the cap is reached; false means refuse it.
    func admit(_ connection: HTTPServerConnection) -> Bool {
        registry.withLock { connections in
            guard connections.count < configuration.maxConnections else { return false }
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

// MARK: - Accepting

/// The listening socket, owned by one loop.
final class HTTPListener: EventLoopSelectable, @unchecked Sendable {
    // @unchecked Sendable: after init (which runs on `loop`), `socket`/`closed` are touched only
    // on `loop`'s thread (`handleReadiness`, and `close` reached through `loop.execute`).
    let loop: EventLoop
    let localAddress: SocketAddress
    private let socket: Socket
    private let shared: HTTPServerShared
    private var closed = false

    init(address: SocketAddress, loop: EventLoop, shared: HTTPServerShared) throws {
        let (socket, localAddress) = try Socket.bound(tcp: true, to: address, backlog: shared.configuration.backlog)
        self.localAddress = localAddress
        self.socket = socket
        self.loop = loop
        self.shared = shared
        do {
            try loop.register(socket.fd, self, events: LoopEvents.readable)
        } catch {
            socket.close()
            throw error
        }
    }

    func handleReadiness(_ events: UInt32) {
        for _ in 0..<64 {
            guard !closed else { return }
            let client: Socket?
            do {
                client = try socket.accept()
            } catch {
                pauseAccepting()
                return
            }
            guard let client else { return }
            accept(client)
        }
    }

    private func accept(_ client: Socket) {
        shared.accepted.add(1, ordering: .relaxed)
        try? client.setNoDelay()
        let target = shared.group.next()
        let shared = self.shared
        if target === loop {
            HTTPServerConnection.start(socket: client, loop: target, shared: shared)
        } else {
            target.execute { HTTPServerConnection.start(socket: client, loop: target, shared: shared) }
        }
    }

    /// Out of descriptors (EMFILE) or similar: stop polling the listener for a moment rather than
    /// spinning on a level-triggered readiness we cannot serve.
    private func pauseAccepting() {
        loop.modify(socket.fd, events: 0)
        _ = loop.scheduleTimer(after: .milliseconds(100)) { [self] in
            if !closed { loop.modify(socket.fd, events: LoopEvents.readable) }
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        loop.deregister(socket.fd)
        socket.close()
    }
}
