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
/// Handlers see level-triggered readiness (see ``EventLoop``): while the interest holds a
/// direction and the socket is ready for it, the handler is told, turn after turn. Underneath,
/// the socket is registered once, on the first ``setInterest(_:)`` call, for both directions
/// and **edge-triggered**, and the transport remembers what the last edges and its own reads
/// and writes said: a read or write that came back short or would block means not ready until
/// the next edge. Readiness the handler is owed without a new edge (interest set on a ready
/// socket, a read that filled its buffer, the end of the stream after the peer's FIN) is
/// handed back through the loop at the end of the turn. So interest changes cost no `epoll_ctl`, and `epoll_wait` never polls a socket again
/// just to find it drained, as level-triggered mode does for every socket it reported.
///
/// A layer that reads or writes the descriptor itself (TLS, through OpenSSL) cannot keep those
/// flags: it switches the transport to plain level-triggered mode with ``useLevelTriggered()``.
public final class TCPTransport: ByteStreamTransport, EventLoopSelectable, @unchecked Sendable {
    // @unchecked Sendable: loop-confined. Every member except `init` and `loop` is used on
    // `loop`'s thread only (asserted where it matters); other threads only pass the object to
    // its loop (`loop.execute`, `loop.submit`). The state read on every readiness report skips
    // the runtime exclusivity check: loop-confined, and no access to it overlaps another (the
    // handler is called with values already read). That includes `edgeTriggered`, `registered`
    // and `isClosed`, read by every read, write and readiness report.

    public let loop: EventLoop
    let socket: Socket
    @exclusivity(unchecked) private var handler: (any ByteStreamTransportHandler)?
    @exclusivity(unchecked) private var registered = false
    /// The interest registered with epoll (level-triggered mode only).
    private var epollInterest: UInt32 = 0
    /// Edge-triggered (see the type's documentation) until ``useLevelTriggered()``.
    @exclusivity(unchecked) private var edgeTriggered = true
    /// What the handler wants to hear about.
    @exclusivity(unchecked) private var interest: TransportInterest = []
    /// Edge-triggered state: whether the socket may be readable / writable (an edge said so
    /// and no read or write since came back short), and whether it reported an error or hang-up.
    @exclusivity(unchecked) private var mayRead = false
    @exclusivity(unchecked) private var mayWrite = false
    @exclusivity(unchecked) private var hungUp = false
    /// The peer's FIN arrived: reads go on finding bytes and then the end, with no new edge,
    /// so the socket stays readable.
    @exclusivity(unchecked) private var peerFinished = false
    /// Whether the loop holds this transport to hand it readiness at the end of the turn.
    @exclusivity(unchecked) private var owedByLoop = false
    @exclusivity(unchecked) public private(set) var isClosed = false
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
        if edgeTriggered && registered { oweReadinessIfReady() }
    }

    public func setInterest(_ interest: TransportInterest) {
        assert(loop.inLoop)
        guard !isClosed else { return }
        self.interest = interest
        let wanted = Self.levelTriggeredMask(interest)
        if edgeTriggered && registered {
            oweReadinessIfReady()
            return
        }
        if !registered {
            do {
                try loop.register(socket.fd, self, events: edgeTriggered ? LoopEvents.edgeTriggeredReadWrite : wanted)
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
        if edgeTriggered {
            if events & LoopEvents.readable != 0 { mayRead = true }
            if events & LoopEvents.writable != 0 { mayWrite = true }
            if events & LoopEvents.error != 0 { hungUp = true }
            if events & LoopEvents.peerFinished != 0 { peerFinished = true }
            deliverReadiness()
            return
        }
        guard let handler else { return }
        var ready: TransportEvents = []
        if events & LoopEvents.readable != 0 { ready.insert(.readable) }
        if events & LoopEvents.writable != 0 { ready.insert(.writable) }
        if events & LoopEvents.error != 0 { ready.formUnion([.hangUp, .readable, .writable]) }
        handler.transportReady(ready)
    }

    // MARK: I/O

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportReadResult {
        // Closed, the descriptor's number may already belong to another file.
        guard !isClosed else { return .failed(usedAfterClose("read")) }
        do {
            guard let count = try socket.read(into: buffer) else {
                mayRead = false
                return .wouldBlock
            }
            // A short read emptied the socket: the next bytes bring a new edge. (Not after the
            // peer's FIN: the end of the stream is still to be read, and stays readable.)
            if count > 0 && count < buffer.count && !peerFinished { mayRead = false }
            return count == 0 ? .endOfStream : .read(count)
        } catch {
            return .failed(failure(error))
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> TransportWriteResult {
        guard !isClosed else { return .failed(usedAfterClose("write")) }
        do {
            guard let count = try socket.send(bytes) else {
                mayWrite = false
                return .wouldBlock
            }
            // A short write filled the send buffer: the kernel signals the edge when it drains.
            if count < bytes.count { mayWrite = false }
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

    /// Closes with a reset (see ``ByteStreamTransport/abort()``).
    public func abort() {
        guard !isClosed else { return }
        socket.setResetOnClose()
        close()
    }

    // MARK: Edge-triggered readiness, reported level-triggered

    /// Switches to plain level-triggered epoll, for a layer that does its own I/O on
    /// ``descriptor`` (the transport's flags would not see it); must come before that I/O.
    public func useLevelTriggered() {
        assert(loop.inLoop)
        guard edgeTriggered else { return }
        edgeTriggered = false
        guard registered, !isClosed else { return }
        epollInterest = Self.levelTriggeredMask(interest)
        loop.modify(socket.fd, events: epollInterest)
    }

    /// The level-triggered epoll mask for `interest`.
    private static func levelTriggeredMask(_ interest: TransportInterest) -> UInt32 {
        var mask: UInt32 = 0
        if interest.contains(.read) { mask |= LoopEvents.readable }
        if interest.contains(.write) { mask |= LoopEvents.writable }
        return mask
    }

    /// Whether an edge said the socket is readable and no read since came back short (for
    /// tests and diagnostics).
    var mayBeReadable: Bool { mayRead }

    /// Edge-triggered, the transport knows it from the edges and its own reads (see
    /// ``ByteStreamTransport/mayHaveUnreadInput``); level-triggered, it cannot tell.
    public var mayHaveUnreadInput: Bool { edgeTriggered && (mayRead || peerFinished || hungUp) }

    /// What level-triggered epoll would report now: the directions of the interest the socket
    /// may be ready for, or everything after a hang-up (reported regardless of interest).
    private var levelReadiness: TransportEvents {
        if hungUp { return [.hangUp, .readable, .writable] }
        var ready: TransportEvents = []
        if (mayRead || peerFinished) && interest.contains(.read) { ready.insert(.readable) }
        if mayWrite && interest.contains(.write) { ready.insert(.writable) }
        return ready
    }

    /// Tells the handler what it is owed; if it is still owed something afterwards (it did not
    /// read or write until the socket said no), the loop calls again at the end of the turn,
    /// as level-triggered epoll would report it again on the next one.
    private func deliverReadiness() {
        guard let handler, !isClosed else { return }
        let ready = levelReadiness
        guard !ready.isEmpty else { return }
        handler.transportReady(ready)
        oweReadinessIfReady()
    }

    private func oweReadinessIfReady() {
        guard !owedByLoop, !isClosed, handler != nil, !levelReadiness.isEmpty else { return }
        owedByLoop = true
        loop.oweReadiness(self)
    }

    /// Called by the loop at the end of the turn in which readiness was owed.
    func deliverOwedReadiness() {
        owedByLoop = false
        guard edgeTriggered else { return }
        deliverReadiness()
    }

    /// The pending socket error (`SO_ERROR`): how a non-blocking connect ended.
    func pendingError() -> Int32 { (try? socket.pendingError()) ?? EIO }

    private func usedAfterClose(_ operation: String) -> NetworkError {
        NetworkError(.connectionClosed, peer: remoteAddress?.description ?? "unknown peer", detail: "\(operation) after the transport was closed")
    }

    private func failure(_ error: SystemError) -> NetworkError {
        let code: NetworkError.Code = (error.errno == ECONNRESET || error.errno == EPIPE) ? .connectionReset : .ioFailed
        return NetworkError(code, peer: remoteAddress?.description ?? "unknown peer", detail: error.description)
    }
}
