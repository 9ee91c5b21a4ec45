// MARK: - A TCP server for length-prefixed messages

/// Settings of a ``TCPMessageServer``.
public struct TCPMessageServerConfiguration: Sendable, Hashable {
    /// A connection that completes no message for this long is closed (RFC 7766 §6.2.3 asks for
    /// an idle timeout; the timer restarts with every complete message).
    public var idleTimeout: Duration
    /// Most connections open at once; more are accepted and closed at once.
    public var maxConnections: Int
    public var backlog: Int32
    /// Reading pauses while this many response bytes wait to be sent (a client that pipelines
    /// queries but does not read its answers cannot make the server buffer without bound).
    public var maxPendingOutput: Int

    public init(idleTimeout: Duration = .seconds(10), maxConnections: Int = 256, backlog: Int32 = 256,
                maxPendingOutput: Int = 256 * 1024) {
        self.idleTimeout = idleTimeout
        self.maxConnections = max(1, maxConnections)
        self.backlog = backlog
        self.maxPendingOutput = max(1, maxPendingOutput)
    }
}

/// Counters of a ``TCPMessageServer``.
public struct TCPMessageServerStatistics: Sendable, Hashable {
    public var accepted = 0
    /// Connections closed at once because ``TCPMessageServerConfiguration/maxConnections`` were open.
    public var refused = 0
    /// Connections closed by the idle timeout.
    public var timedOut = 0
    /// Messages answered.
    public var messages = 0
    /// Connections open now.
    public var open = 0

    public init() {}
}

/// A TCP server for messages framed by a two-byte big-endian length (DNS over TCP, RFC 1035
/// §4.2.2 and RFC 7766), answered by a ``MessageResponder``, all on one event loop.
///
/// Pipelined messages are answered in order as they arrive (each answer is ready before the next
/// message is read, so order never costs latency here). The responder's answers are framed the
/// same way. An empty answer, a peer that closes its side, or the idle timeout close the
/// connection once the answers before are sent.
public final class TCPMessageServer: Sendable {
    /// The bound address; with port 0 it holds the kernel's choice.
    public let localAddress: SocketAddress
    private let listener: MessageListener

    private init(localAddress: SocketAddress, listener: MessageListener) {
        self.localAddress = localAddress
        self.listener = listener
    }

    deinit {
        let listener = self.listener
        listener.loop.execute { listener.close() }
    }

    /// Binds and listens on `address`, serving connections on `loop`.
    public static func start(address: SocketAddress, configuration: TCPMessageServerConfiguration = TCPMessageServerConfiguration(),
                             loop: EventLoop, responder: any MessageResponder) async throws -> TCPMessageServer {
        let listener = try await loop.submit { () throws -> MessageListener in
            try MessageListener(address: address, configuration: configuration, loop: loop, responder: responder)
        }
        return TCPMessageServer(localAddress: listener.localAddress, listener: listener)
    }

    /// The counters so far.
    public func statistics() async -> TCPMessageServerStatistics {
        let listener = self.listener
        return (try? await listener.loop.submit { listener.currentStatistics }) ?? TCPMessageServerStatistics()
    }

    /// Stops listening and closes every connection; returns once they are closed.
    public func close() async {
        let listener = self.listener
        _ = try? await listener.loop.submit { listener.close() }
    }
}

// MARK: - Accepting

/// The listening socket and the connections, all owned by one loop.
final class MessageListener: EventLoopSelectable, @unchecked Sendable {
    // @unchecked Sendable: created on `loop` (through `loop.submit`); the socket, the connection
    // table, the shared response buffer and the counters are touched only on `loop`'s thread.
    let loop: EventLoop
    let localAddress: SocketAddress
    let configuration: TCPMessageServerConfiguration
    let responder: any MessageResponder
    /// Every connection answers into this one buffer (answers are copied out at once).
    let responseBuffer: UnsafeMutableRawBufferPointer
    var statistics = TCPMessageServerStatistics()
    private let socket: Socket
    private var connections: [ObjectIdentifier: MessageConnection] = [:]
    private var closed = false

    init(address: SocketAddress, configuration: TCPMessageServerConfiguration, loop: EventLoop, responder: any MessageResponder) throws {
        let (socket, localAddress) = try Socket.bound(tcp: true, to: address, backlog: configuration.backlog)
        self.socket = socket
        self.localAddress = localAddress
        self.configuration = configuration
        self.loop = loop
        self.responder = responder
        responseBuffer = .allocate(byteCount: Int(UInt16.max), alignment: 16)
        do {
            try loop.register(socket.fd, self, events: LoopEvents.readable)
        } catch {
            socket.close()
            responseBuffer.deallocate()
            throw error
        }
    }

    deinit { responseBuffer.deallocate() }

    var currentStatistics: TCPMessageServerStatistics {
        var current = statistics
        current.open = connections.count
        return current
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
            statistics.accepted += 1
            guard connections.count < configuration.maxConnections else {
                statistics.refused += 1
                client.close()
                continue
            }
            try? client.setNoDelay()
            let connection = MessageConnection(socket: client, listener: self)
            connections[ObjectIdentifier(connection)] = connection
            connection.start()
        }
    }

    /// Out of descriptors (EMFILE) or similar: stop polling the listener for a moment rather than
    /// spin on a readiness that cannot be served.
    private func pauseAccepting() {
        loop.modify(socket.fd, events: 0)
        _ = loop.scheduleTimer(after: .milliseconds(100)) { [self] in
            if !closed { loop.modify(socket.fd, events: LoopEvents.readable) }
        }
    }

    func remove(_ connection: MessageConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    func close() {
        guard !closed else { return }
        closed = true
        loop.deregister(socket.fd)
        socket.close()
        for connection in Array(connections.values) { connection.closeNow() }
    }
}
