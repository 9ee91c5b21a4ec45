import Synchronization

// MARK: - One server connection: I/O, timers, closing

/// One accepted connection, living on one loop for its whole life.
///
/// The I/O half (this file) reads into a ``ReceiveBuffer`` from its ``ByteStreamTransport``,
/// writes with back-pressure, runs one re-armed deadline timer, and closes (lingering after a
/// final response so the peer reads it instead of a reset). Parsing and request bodies are in
/// `+Requests`, responses and hand-off in `+Responses`, the handler task in `+Handler`.
final class HTTPServerConnection: ByteStreamTransportHandler, @unchecked Sendable {
    // @unchecked Sendable: every mutable property (and the transport) is touched only on
    // `loop`'s thread. Other threads reach the connection only through `loop.execute`, and the
    // handler task runs on the loop executor (results from elsewhere are handed back with
    // `loop.execute`).

    enum Phase { case open, lingering, handedOff, closed }
    enum DeadlineAction { case closeSilently, headerTimeout, bodyTimeout }

    let loop: EventLoop
    let transport: any ByteStreamTransport
    let shared: HTTPServerShared
    let remoteAddress: SocketAddress?
    /// ``remoteAddress``'s host as text once asked for (``remoteHost``); nil before.
    @exclusivity(unchecked) var remoteHostText: String??
    let buffer: ReceiveBuffer
    let maxBufferCapacity: Int

    // The per-request state below is not checked for exclusivity at run time: it is touched only
    // on the loop thread, by code that never holds one access across another.
    var phase = Phase.open
    @exclusivity(unchecked) var parser: HTTPRequestParser
    @exclusivity(unchecked) var events: [HTTPRequestParserEvent] = []
    /// The fields of the last head recognised in place (storage kept across requests).
    @exclusivity(unchecked) var headFields: [HTTPFieldSpan] = []
    /// The request being answered, from its head until its response is finished.
    @exclusivity(unchecked) var exchange: HTTPServerExchange?
    /// The last finished exchange, kept to be reused for the next request.
    @exclusivity(unchecked) var spareExchange: HTTPServerExchange?
    var lastExchangeID: UInt64 = 0
    /// Why the last failed exchange failed, for body reads that come after it was dropped.
    var lastFailure: (id: UInt64, error: any Error)?
    /// False after a request could not be read: nothing more is parsed.
    var acceptsRequests = true
    var closeAfterResponse = false
    var headerTimerRunning = false
    /// The idle handler task, woken with true when a request is queued, false once closed.
    var handlerWaiter: CheckedContinuation<Bool, Never>?
    @exclusivity(unchecked) var queued = HTTPQueuedRequest()
    var handlerTaskRunning = false
    /// The handler task's handle, cancelled when the client leaves during a request (`+Departure`).
    var handlerTask: Task<Void, Never>?
    /// The client has sent a request while another was being answered (it pipelines): its
    /// end of stream is then a half-close, not a departure (see `peerFinishedDuringExchange`).
    var clientPipelines = false
    /// The server closed the connection (shutdown's grace period ran out), not the client.
    var closedByServer = false
    @exclusivity(unchecked) var handOffWaiter: (() -> Void)?
    /// True while ``processInput()`` runs; a call from inside it sets `inputPending` instead.
    var processingInput = false
    var inputPending = false

    private var readPaused = false
    /// Reading stopped because the peer is not reading its responses (see `readInput`).
    private var pausedForOutput = false
    private(set) var peerClosed = false
    private var wantWrite = false
    private var interest = TransportInterest.read
    @exclusivity(unchecked) private var outbound: [UInt8] = []
    private var outboundOffset = 0
    @exclusivity(unchecked) private var drainWaiters: [CheckedContinuation<Void, any Error>] = []

    // The deadlines (see `+Deadline`).
    var deadline: UInt64 = 0
    /// While queued response bytes wait for the peer: when the connection closes unless the
    /// peer has taken some of them by then (0: nothing waits).
    var sendDeadline: UInt64 = 0
    /// What the deadline timer calls; cleared once the connection is closed or handed off.
    lazy var timerTarget = TimerTarget(self)
    var deadlineAction = DeadlineAction.closeSilently
    var armedAt: UInt64 = 0

    static let drainHighWater = 256 * 1024

    /// True while a request's response is not finished.
    var inFlight: Bool { exchange != nil }

    private init(transport: any ByteStreamTransport, shared: HTTPServerShared) {
        self.transport = transport
        self.loop = transport.loop
        self.shared = shared
        self.remoteAddress = transport.remoteAddress
        let limits = shared.configuration.limits
        self.parser = HTTPRequestParser(limits: limits)
        self.maxBufferCapacity = max(max(limits.maxHeaderBytes, limits.maxRequestLineBytes) + 4096,
                                     shared.configuration.maxPipelineBuffer)
        self.buffer = ReceiveBuffer(capacity: 4096)
    }

    /// Takes ownership of an accepted socket on `loop` (must be called on `loop`).
    static func start(socket: Socket, loop: EventLoop, shared: HTTPServerShared) {
        let tcp = TCPTransport(socket: socket, loop: loop)
        let transport: any ByteStreamTransport
        do {
            transport = try shared.configuration.transport.makeTransport(over: tcp, role: .server)
        } catch {
            tcp.close()
            return
        }
        let connection = HTTPServerConnection(transport: transport, shared: shared)
        guard !shared.shuttingDown.load(ordering: .acquiring), shared.admit(connection) else {
            let refusal = HTTPResponseEncoder.error(status: 503, reason: "too many connections; try again later",
                                                    format: shared.configuration.errorFormat)
            _ = refusal.withUnsafeBytes { transport.write($0) }
            shared.configuration.onRefusal?(HTTPServerRefusal(status: 503))
            transport.shutdownWrite()
            transport.close()
            return
        }
        transport.setHandler(connection)
        transport.setInterest(.read)
        connection.setDeadline(after: shared.configuration.headerReadTimeout, .closeSilently)
    }

    // MARK: Readiness

    func transportReady(_ events: TransportEvents) {
        if events.contains(.writable) { flushOutbound() }
        if !events.isDisjoint(with: [.readable, .hangUp]) { readInput(hangUp: events.contains(.hangUp)) }
    }

    /// Reads what is available. `hangUp` (reported even when not asked for) with nowhere to read
    /// into means the connection is unusable: close rather than spin.
    private func readInput(hangUp: Bool) {
        switch phase {
        case .closed, .handedOff: return
        case .lingering: discardInput()
        case .open:
            if !hangUp && pendingOutboundBytes > Self.drainHighWater {
                // The peer sends requests but does not read the answers: read no more until they
                // drain, or its pipelined requests would queue responses without bound.
                pauseForOutput()
                return
            }
            guard let space = buffer.writableSpace(maxCapacity: maxBufferCapacity) else {
                if hangUp { closeNow() } else if inFlight { pauseReading() } else { failRequest(HTTPParseError(status: 431, reason: "request too large to buffer")) }
                return
            }
            switch transport.read(into: space) {
            case .wouldBlock:
                return
            case .read(let count):
                buffer.didWrite(count)
                // A read that filled all the free space suggests a stream (a body): read in
                // larger units from now on, up to the bound.
                if count == space.count { buffer.grow(maxCapacity: maxBufferCapacity) }
                processInput()
            case .endOfStream:
                peerHasClosed()
            case .failed:
                closeNow()
            }
        }
    }

    /// The peer finished sending. A body cut short fails its request. While a request is being
    /// answered this is the client leaving (`peerFinishedDuringExchange`): the connection closes
    /// and the request is abandoned. Otherwise it is a half-close: complete requests already
    /// buffered are still answered, in order; then the connection closes.
    private func peerHasClosed() {
        peerClosed = true
        updateInterest()
        if let exchange, !exchange.body.complete {
            failRequest(.bad("connection closed in the middle of the body"))
        } else if peerFinishedDuringExchange() {
            closeNow()
            return
        }
        closeIfPeerIsDone()
    }

    /// Once the peer has half-closed and nothing more can be answered, close (after flushing).
    /// Requests held back until the answers drain (`pauseForOutput`) are still to be answered.
    func closeIfPeerIsDone() {
        guard peerClosed, phase == .open, !inFlight, !processingInput, !pausedForOutput else { return }
        if pendingOutboundBytes == 0 {
            closeNow()
        } else {
            closeAfterResponse = true
        }
    }

    private func discardInput() {
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            switch scratch.withUnsafeMutableBytes({ transport.read(into: $0) }) {
            case .failed, .endOfStream: closeNow(); return
            case .wouldBlock: return
            case .read: continue
            }
        }
    }

    /// Reads and parses nothing more until the queued answers have drained (`outboundDrained`).
    func pauseForOutput() {
        pausedForOutput = true
        pauseReading()
    }

    func pauseReading() {
        guard !readPaused else { return }
        readPaused = true
        updateInterest()
    }

    func resumeReading() {
        guard readPaused else { return }
        readPaused = false
        updateInterest()
    }

    private func updateInterest() {
        guard phase == .open || phase == .lingering else { return }
        var wanted: TransportInterest = []
        if !peerClosed && (!readPaused || phase == .lingering) { wanted.insert(.read) }
        if wantWrite { wanted.insert(.write) }
        if wanted != interest {
            interest = wanted
            transport.setInterest(wanted)
        }
    }

    // MARK: Writing

    /// Sends `bytes` after anything already queued; queues what the transport cannot take now.
    func send(_ bytes: [UInt8]) {
        guard phase == .open else { return }
        if outboundOffset == outbound.count {
            var written = 0
            while written < bytes.count {
                let result = bytes.withUnsafeBytes { transport.write(UnsafeRawBufferPointer(rebasing: $0[written...])) }
                switch result {
                case .failed:
                    closeNow()
                    return
                case .wouldBlock:
                    outbound.removeAll(keepingCapacity: true)
                    outbound.append(contentsOf: bytes[written...])
                    outboundOffset = 0
                    wantWrite = true
                    updateInterest()
                    setSendDeadline()
                    return
                case .wrote(let count):
                    written += count
                }
            }
            outboundDrained()
        } else {
            outbound.append(contentsOf: bytes)
        }
    }

    /// Sends what `compose` appends, after anything already queued: it writes straight into the
    /// connection's outbound buffer (a small response costs no array of its own), which is then
    /// handed to the transport unless earlier bytes are still waiting for it.
    func send(composing compose: (inout [UInt8]) -> Void) {
        guard phase == .open else { return }
        let idle = outboundOffset == outbound.count
        if idle {
            outbound.removeAll(keepingCapacity: true)
            outboundOffset = 0
        }
        compose(&outbound)
        if idle { flushOutbound() }
    }

    /// Bytes queued but not yet accepted by the transport.
    var pendingOutboundBytes: Int { outbound.count - outboundOffset }

    private func flushOutbound() {
        guard phase == .open else { return }
        var progressed = false
        while outboundOffset < outbound.count {
            let result = outbound.withUnsafeBytes { transport.write(UnsafeRawBufferPointer(rebasing: $0[outboundOffset...])) }
            switch result {
            case .failed:
                closeNow()
                return
            case .wouldBlock:
                if !wantWrite {
                    wantWrite = true
                    updateInterest()
                }
                // The peer took some: it has another idle timeout to take the rest.
                if progressed || sendDeadline == 0 { setSendDeadline() }
                return
            case .wrote(let count):
                outboundOffset += count
                progressed = true
            }
        }
        outbound.removeAll(keepingCapacity: outbound.count <= 64 * 1024)
        outboundOffset = 0
        if wantWrite {
            wantWrite = false
            updateInterest()
        }
        outboundDrained()
    }

    private func outboundDrained() {
        if sendDeadline != 0 { sendDrained() }
        if pausedForOutput {
            pausedForOutput = false
            resumeReading()
            // Answers the requests already buffered (which no readiness will announce), or
            // closes when the peer has half-closed meanwhile.
            processInput()
        }
        if !drainWaiters.isEmpty {
            let waiters = drainWaiters
            drainWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
        if let handOff = handOffWaiter {
            handOffWaiter = nil
            handOff()
            return
        }
        if closeAfterResponse && !inFlight { beginLinger() }
    }

    /// Suspends a body stream while more than the high-water mark is queued.
    func waitForDrain(_ continuation: CheckedContinuation<Void, any Error>) {
        guard phase == .open else {
            continuation.resume(throwing: NetworkError(.connectionClosed, peer: remoteAddress?.description ?? "client",
                                                       detail: "the connection closed while the response was being sent"))
            return
        }
        if pendingOutboundBytes > Self.drainHighWater {
            drainWaiters.append(continuation)
        } else {
            continuation.resume()
        }
    }

    // MARK: Closing

    /// After the final response: stop sending, read and discard until the peer closes (or a
    /// short deadline), so unread request bytes do not turn our close into a reset.
    func beginLinger() {
        guard phase == .open else { return }
        if peerClosed {
            closeNow()
            return
        }
        phase = .lingering
        // Its last response is sent: it no longer counts as open for the connection cap or for
        // graceful shutdown; the linger deadline closes the descriptor.
        shared.remove(self)
        transport.shutdownWrite()
        buffer.removeAll()
        readPaused = false
        updateInterest()
        setDeadline(after: .seconds(2), .closeSilently)
    }

    /// Shutdown has begun: idle connections close now, busy ones after their current response
    /// (one whose response is still being sent, after it has gone: see `outboundDrained`).
    func beginGracefulClose() {
        guard phase == .open else { return }
        closeAfterResponse = true
        if !inFlight && buffer.count == 0 && parser.isAtMessageBoundary && pendingOutboundBytes == 0 { closeNow() }
    }

    func closeNow() {
        guard phase == .open || phase == .lingering else { return }
        phase = .closed
        transport.close()
        endConnectionState()
    }

    /// Fails everything that waits on this connection and leaves the server's registry.
    func endConnectionState() {
        releaseTimer()
        if exchange != nil { abandonExchange() }
        let gone = NetworkError(.connectionClosed, peer: remoteAddress?.description ?? "client", detail: "connection closed")
        let waiters = drainWaiters
        drainWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: gone) }
        if let exchange {
            if exchange.body.failure == nil { exchange.body.failure = gone }
            lastFailure = (exchange.id, exchange.body.failure ?? gone)
            let reader = exchange.body.takeWaiter()
            reader?.resume(throwing: gone)
        }
        if let handOff = handOffWaiter {
            handOffWaiter = nil
            handOff()
        }
        if let waiter = handlerWaiter {
            handlerWaiter = nil
            waiter.resume(returning: false)
        }
        shared.remove(self)
    }
}
