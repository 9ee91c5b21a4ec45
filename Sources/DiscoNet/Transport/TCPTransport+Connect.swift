#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

// MARK: - Opening TCP transports

extension TCPTransport {
    /// Connects to `address` from `loop` (non-blocking connect with TCP_NODELAY, bounded by
    /// `timeout`). Cancelling the waiting task abandons the attempt and closes the socket.
    static func connect(to address: SocketAddress, timeout: Duration, loop: EventLoop) async throws -> TCPTransport {
        let socket: Socket
        do {
            socket = try Socket.tcp(for: address)
            try? socket.setNoDelay()
        } catch {
            throw NetworkError(.connectFailed, peer: address.description, detail: error.description)
        }
        let connector = TCPConnector(transport: TCPTransport(socket: socket, loop: loop, remoteAddress: address),
                                     peer: address.description)
        return try await loop.run { (continuation: CheckedContinuation<TCPTransport, any Error>) in
            connector.start(to: address, timeout: timeout, continuation)
        } onCancel: {
            connector.fail(NetworkError(.cancelled, peer: address.description))
        }
    }
}

/// Waits for one non-blocking connect to finish: writability, then `SO_ERROR`.
private final class TCPConnector: ByteStreamTransportHandler, @unchecked Sendable {
    // @unchecked Sendable: created off the loop but touched only on `transport.loop` (`start`
    // runs through `loop.run`, `fail` through its `onCancel`, which also hops to the loop).
    let transport: TCPTransport
    let peer: String
    private var waiter: CheckedContinuation<TCPTransport, any Error>?
    private var timer: TimerID?
    /// Set when the attempt was abandoned before it started (a task cancelled early).
    private var abandoned: NetworkError?

    init(transport: TCPTransport, peer: String) {
        self.transport = transport
        self.peer = peer
    }

    func start(to address: SocketAddress, timeout: Duration, _ continuation: CheckedContinuation<TCPTransport, any Error>) {
        if let abandoned {
            transport.close()
            continuation.resume(throwing: abandoned)
            return
        }
        do {
            if try transport.socket.connect(to: address) {
                continuation.resume(returning: transport)
                return
            }
        } catch {
            transport.close()
            let code: NetworkError.Code = error.errno == ECONNREFUSED ? .connectRefused : .connectFailed
            continuation.resume(throwing: NetworkError(code, peer: peer, detail: error.description))
            return
        }
        waiter = continuation
        timer = transport.loop.scheduleTimer(after: timeout) { [weak self] in
            guard let self else { return }
            self.fail(NetworkError(.connectTimeout, peer: self.peer, detail: "no answer within \(timeout)"))
        }
        transport.setHandler(self)
        transport.setInterest(.write)
    }

    func transportReady(_ events: TransportEvents) {
        guard let waiter else { return }
        self.waiter = nil
        if let timer { transport.loop.cancelTimer(timer) }
        transport.setHandler(nil)
        let code = transport.pendingError()
        if code == 0 {
            transport.setInterest([])
            waiter.resume(returning: transport)
        } else {
            transport.close()
            waiter.resume(throwing: NetworkError(code == ECONNREFUSED ? .connectRefused : .connectFailed, peer: peer,
                                                 detail: SystemError(function: "connect", errno: code).description))
        }
    }

    /// Ends a pending attempt with `error` (timeout or cancellation), on the loop.
    func fail(_ error: NetworkError) {
        let loop = transport.loop
        guard loop.inLoop else {
            loop.execute { self.fail(error) }
            return
        }
        guard let waiter else {
            if abandoned == nil { abandoned = error }
            return
        }
        self.waiter = nil
        if let timer { loop.cancelTimer(timer) }
        transport.close()
        waiter.resume(throwing: error)
    }
}
