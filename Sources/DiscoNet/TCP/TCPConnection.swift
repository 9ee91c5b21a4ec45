// MARK: - Async TCP connections

/// A TCP connection with an async API, driven by an ``EventLoop``: plain TCP, or a transport
/// layered on it (see ``ByteStreamTransportFactory``).
///
/// One reader at a time; writes are queued in order. Cancelling a task blocked in `read`,
/// `write` or `connect` closes the connection (it cannot be used consistently afterwards).
public final class TCPConnection: Sendable {
    let channel: TCPChannel
    /// The peer this connection was opened to (or accepted from).
    public let remoteAddress: SocketAddress
    public let localAddress: SocketAddress?

    init(channel: TCPChannel, remoteAddress: SocketAddress, localAddress: SocketAddress?) {
        self.channel = channel
        self.remoteAddress = remoteAddress
        self.localAddress = localAddress
    }

    deinit {
        let channel = self.channel
        channel.loop.execute { channel.close() }
    }

    /// Wraps a transport that is already connected and takes over its readiness (on its loop).
    static func adopting(_ transport: any ByteStreamTransport, remoteAddress: SocketAddress) -> TCPConnection {
        let channel = TCPChannel(transport: transport, peer: remoteAddress.description)
        let connection = TCPConnection(channel: channel, remoteAddress: remoteAddress, localAddress: transport.localAddress)
        channel.adopt()
        return connection
    }

    // MARK: Connecting

    /// Connects to `address` (non-blocking connect, bounded by `timeout`), with TCP_NODELAY set,
    /// then layers the transport `transport` makes (plain TCP by default) and waits until it can
    /// carry bytes (for TLS: the handshake, bounded by its own timeout and by what is left of
    /// `timeout`, then ``NetworkError/Code/connectTimeout``; a failed handshake throws
    /// ``NetworkError/Code/connectFailed`` with the reason).
    public static func connect(
        to address: SocketAddress, timeout: Duration = .seconds(5), group: EventLoopGroup? = nil,
        transport factory: any ByteStreamTransportFactory = PlainTransportFactory(), serverName: String? = nil
    ) async throws -> TCPConnection {
        let group = try group ?? EventLoopGroup.startShared()
        let loop = group.next()
        let started = MonotonicClock.nowNanoseconds()
        let tcp = try await TCPTransport.connect(to: address, timeout: timeout, loop: loop)
        let role = TransportRole.client(serverName: serverName ?? address.host)
        // One hop: the transport is made, adopted and waited for before the loop handles any of
        // its events, so a failing handshake reports its own reason.
        let attempt = ConnectAttempt()
        return try await loop.run { (continuation: CheckedContinuation<TCPConnection, any Error>) in
            let connection: TCPConnection
            do {
                connection = adopting(try factory.makeTransport(over: tcp, role: role), remoteAddress: address)
            } catch {
                tcp.close()
                continuation.resume(throwing: NetworkError(.connectFailed, peer: address.description, detail: "\(error)"))
                return
            }
            attempt.channel = connection.channel
            connection.channel.transport.whenReady { failure in
                if let timer = attempt.handshakeTimer { loop.cancelTimer(timer) }
                attempt.handshakeTimer = nil
                guard !attempt.finished else { return }
                attempt.finished = true
                if let failure {
                    connection.channel.close(reason: failure)
                    continuation.resume(throwing: NetworkError(.connectFailed, peer: address.description, detail: failure.detail))
                } else {
                    continuation.resume(returning: connection)
                }
            }
            // A handshake is part of connecting: it gets what is left of `timeout` (nginx bounds
            // an upstream's SSL handshake by proxy_connect_timeout the same way).
            guard !attempt.finished else { return }
            attempt.handshakeTimer = loop.scheduleTimer(at: started &+ MonotonicClock.nanoseconds(timeout)) {
                attempt.handshakeTimer = nil
                guard !attempt.finished else { return }
                attempt.finished = true
                let failure = NetworkError(.connectTimeout, peer: address.description,
                                           detail: "the TLS handshake did not finish within the connect timeout (\(timeout))")
                connection.channel.close(reason: failure)
                continuation.resume(throwing: failure)
            }
        } onCancel: {
            attempt.channel?.close(reason: NetworkError(.cancelled, peer: address.description))
        }
    }

    // MARK: I/O

    /// Reads up to `maxBytes`; returns nil at end of stream.
    public func read(maxBytes: Int = 64 * 1024) async throws -> [UInt8]? {
        let channel = self.channel
        return try await channel.loop.run { channel.read(max: maxBytes, $0) } onCancel: {
            channel.close(reason: NetworkError(.cancelled, peer: channel.peer))
        }
    }

    /// Writes all of `bytes`, returning once the transport has accepted them.
    public func write(_ bytes: [UInt8]) async throws {
        let channel = self.channel
        try await channel.loop.run { (continuation: CheckedContinuation<Void, any Error>) in
            channel.write(bytes, continuation)
        } onCancel: {
            channel.close(reason: NetworkError(.cancelled, peer: channel.peer))
        }
    }

    /// Writes `bytes` and runs `onAccepted` on the loop thread as soon as the transport has taken
    /// them, before this call returns (so a reader on the same loop sees it in order).
    func write(_ bytes: [UInt8], onAccepted: @escaping @Sendable () -> Void) async throws {
        let channel = self.channel
        try await channel.loop.run { (continuation: CheckedContinuation<Void, any Error>) in
            channel.write(bytes, continuation, onAccepted: onAccepted)
        } onCancel: {
            channel.close(reason: NetworkError(.cancelled, peer: channel.peer))
        }
    }

    /// Finishes sending (a half-close: TCP FIN after every queued write); reading goes on.
    public func shutdownWrite() {
        let channel = self.channel
        channel.loop.execute { channel.shutdownWrite() }
    }

    /// True when the peer has closed or reset the connection, or it was closed locally, or it
    /// holds bytes nobody asked for (an idle connection out of step with its peer).
    /// Used by pools to skip stale idle connections before reuse.
    public func isStale() async -> Bool {
        let channel = self.channel
        return (try? await channel.loop.submit { channel.peerHasClosed }) ?? true
    }

    /// Closes the connection; pending reads and writes fail.
    public func close() {
        let channel = self.channel
        channel.loop.execute { channel.close() }
    }
}

/// The channel of a connect in progress, for cancelling it (touched on its loop only).
private final class ConnectAttempt: @unchecked Sendable {
    // @unchecked Sendable: `channel` is written and read only on the connecting loop (inside
    // `loop.run` and its `onCancel`, which also runs on the loop).
    var channel: TCPChannel?
    /// Bounds the handshake by what is left of the connect timeout.
    var handshakeTimer: TimerID?
    /// The continuation has been resumed (the handshake ended or the timer fired).
    var finished = false
}
