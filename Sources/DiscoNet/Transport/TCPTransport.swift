#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

// MARK: - Plain TCP as a byte-stream transport

/// A connected, non-blocking TCP socket registered with one ``EventLoop``: the plain
/// ``ByteStreamTransport``, and the layer a TLS transport sits on (it becomes this transport's
/// handler, runs `SSL_read`/`SSL_write` on ``descriptor`` and asks for readiness with
/// ``setInterest(_:)``).
///
/// epoll is level-triggered (see ``EventLoop``): interest maps one to one onto `EPOLLIN` and
/// `EPOLLOUT`, and the descriptor is registered on the first ``setInterest(_:)`` call, so a
/// connection that reads at once costs one `epoll_ctl`.
public final class TCPTransport: ByteStreamTransport, EventLoopSelectable, @unchecked Sendable {
    // @unchecked Sendable: loop-confined. Every member except `init` and `loop` is used on
    // `loop`'s thread only (asserted where it matters); other threads only pass the object to
    // its loop (`loop.execute`, `loop.submit`).

    public let loop: EventLoop
    let socket: Socket
    private var handler: (any ByteStreamTransportHandler)?
    private var registered = false
    private var epollInterest: UInt32 = 0
    public private(set) var isClosed = false
    private var cachedLocal: SocketAddress??
    private var cachedRemote: SocketAddress??

    init(socket: Socket, loop: EventLoop, remoteAddress: SocketAddress? = nil) {
        self.socket = socket
        self.loop = loop
        if let remoteAddress { cachedRemote = .some(remoteAddress) }
    }

    /// The socket descriptor (for a transport layered on this one, such as TLS). Do not close it.
    public var descriptor: Int32 { socket.fd }

    public var localAddress: SocketAddress? {
        if let cachedLocal { return cachedLocal }
        let address = try? socket.localAddress()
        cachedLocal = .some(address)
        return address
    }

    public var remoteAddress: SocketAddress? {
        if let cachedRemote { return cachedRemote }
        let address = try? socket.remoteAddress()
        cachedRemote = .some(address)
        return address
    }

    // MARK: Readiness

    public func setHandler(_ handler: (any ByteStreamTransportHandler)?) {
        assert(loop.inLoop)
        self.handler = isClosed ? nil : handler
    }

    public func setInterest(_ interest: TransportInterest) {
        assert(loop.inLoop)
        guard !isClosed else { return }
        var wanted: UInt32 = 0
        if interest.contains(.read) { wanted |= LoopEvents.readable }
        if interest.contains(.write) { wanted |= LoopEvents.writable }
        if !registered {
            do {
                try loop.register(socket.fd, self, events: wanted)
                registered = true
                epollInterest = wanted
            } catch {
                // Registration failing (ENOMEM, ENOSPC) leaves the stream unusable: report it as
                // a hang-up so the handler closes it.
                let handler = self.handler
                loop.executeLocal { handler?.transportReady(.hangUp) }
            }
            return
        }
        if wanted != epollInterest {
            epollInterest = wanted
            loop.modify(socket.fd, events: wanted)
        }
    }

    func handleReadiness(_ events: UInt32) {
        guard let handler else { return }
        var ready: TransportEvents = []
        if events & LoopEvents.readable != 0 { ready.insert(.readable) }
        if events & LoopEvents.writable != 0 { ready.insert(.writable) }
        if events & LoopEvents.error != 0 { ready.formUnion([.hangUp, .readable, .writable]) }
        handler.transportReady(ready)
    }

    // MARK: I/O

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportReadResult {
        do {
            guard let count = try socket.read(into: buffer) else { return .wouldBlock }
            return count == 0 ? .endOfStream : .read(count)
        } catch {
            return .failed(failure(error))
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> TransportWriteResult {
        do {
            guard let count = try socket.send(bytes) else { return .wouldBlock }
            return .wrote(count)
        } catch {
            return .failed(failure(error))
        }
    }

    public func shutdownWrite() {
        guard !isClosed else { return }
        socket.shutdownWrite()
    }

    public func peerHasClosed() -> Bool { isClosed || socket.peerHasClosed() }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        handler = nil
        if registered { loop.deregister(socket.fd) }
        socket.close()
    }

    /// The pending socket error (`SO_ERROR`): how a non-blocking connect ended.
    func pendingError() -> Int32 { (try? socket.pendingError()) ?? EIO }

    private func failure(_ error: SystemError) -> NetworkError {
        let code: NetworkError.Code = (error.errno == ECONNRESET || error.errno == EPIPE) ? .connectionReset : .ioFailed
        return NetworkError(code, peer: remoteAddress?.description ?? "unknown peer", detail: error.description)
    }
}
