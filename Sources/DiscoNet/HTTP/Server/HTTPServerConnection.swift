import Synchronization

// MARK: - One server connection: I/O, timers, closing

/// One accepted connection, living on one loop for its whole life.
///
/// The I/O half (this file) reads into a ``ReceiveBuffer``, writes with back-pressure, runs one
/// re-armed deadline timer, and closes (lingering after a final response so the peer reads it
/// instead of a reset). The HTTP half is in `HTTPServerConnection+Requests.swift`.
final class HTTPServerConnection: EventLoopSelectable, @unchecked Sendable {
    // @unchecked Sendable: every mutable property is touched only on `loop`'s thread. Other
    // threads reach the connection only through `loop.execute`, and handler tasks run on the loop
    // executor (results from elsewhere are handed back with `loop.execute`).

    enum Phase { case open, lingering, closed }
    enum DeadlineAction { case closeSilently, requestTimeout }

    let loop: EventLoop
    let socket: Socket
    let shared: HTTPServerShared
    let remoteAddress: SocketAddress?
    let buffer: ReceiveBuffer
    let maxBufferCapacity: Int

    var phase = Phase.open
    var parser: HTTPRequestParser
    var events: [HTTPRequestParserEvent] = []
    var pending: PendingRequest?
    var inFlight = false
    var closeAfterResponse = false
    var headerTimerRunning = false
    var handlerWaiter: CheckedContinuation<DispatchedRequest?, Never>?
    var queuedRequest: DispatchedRequest?
    var handlerTaskRunning = false

    private var readPaused = false
    private var peerClosed = false
    private var wantWrite = false
    private var interest = LoopEvents.readable
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    private var drainWaiters: [CheckedContinuation<Void, any Error>] = []

    private var deadline: UInt64 = 0
    private var deadlineAction = DeadlineAction.closeSilently
    private var armedAt: UInt64 = 0

    static let drainHighWater = 256 * 1024

    private init(socket: Socket, loop: EventLoop, shared: HTTPServerShared) {
        self.socket = socket
        self.loop = loop
        self.shared = shared
        self.remoteAddress = try? socket.remoteAddress()
        let limits = shared.configuration.limits
        self.parser = HTTPRequestParser(limits: limits)
        self.maxBufferCapacity = max(max(limits.maxHeaderBytes, limits.maxRequestLineBytes) + 4096,
                                     shared.configuration.maxPipelineBuffer)
        self.buffer = ReceiveBuffer(capacity: 4096)
    }

    /// Takes ownership of an accepted socket on `loop` (must be called on `loop`).
    static func start(socket: Socket, loop: EventLoop, shared: HTTPServerShared) {
        let connection = HTTPServerConnection(socket: socket, loop: loop, shared: shared)
        guard !shared.shuttingDown.load(ordering: .acquiring), shared.admit(connection) else {
            let refusal = HTTPResponseEncoder.error(status: 503, reason: "too many connections; try again later")
            _ = try? refusal.withUnsafeBytes { try socket.send($0) }
            socket.shutdownWrite()
            socket.close()
            return
        }
        do {
            try loop.register(socket.fd, connection, events: LoopEvents.readable)
        } catch {
            connection.closeNow()
            return
        }
        connection.setDeadline(after: shared.configuration.headerReadTimeout, .closeSilently)
    }

    // MARK: Readiness

    func handleReadiness(_ events: UInt32) {
        if events & LoopEvents.writable != 0 { flushOutbound() }
        if events & (LoopEvents.readable | LoopEvents.error) != 0 { readInput(hangUp: events & LoopEvents.error != 0) }
    }

    /// Reads what is available. `hangUp` (EPOLLERR/EPOLLHUP, reported even when not asked for)
    /// with nowhere to read into means the connection is unusable: close rather than spin.
    private func readInput(hangUp: Bool) {
        switch phase {
        case .closed: return
        case .lingering: discardInput()
        case .open:
            guard let space = buffer.writableSpace(maxCapacity: maxBufferCapacity) else {
                if hangUp { closeNow() } else if inFlight { pauseReading() } else { failRequest(HTTPParseError(status: 431, reason: "request too large to buffer")) }
                return
            }
            let count: Int
            do {
                guard let read = try socket.read(into: space) else { return }
                count = read
            } catch {
                closeNow()
                return
            }
            if count == 0 {
                peerHasClosed()
                return
            }
            buffer.didWrite(count)
            processInput()
        }
    }

    /// The peer finished sending (half-close). Complete requests already buffered are still
    /// answered, in order; then the connection closes.
    private func peerHasClosed() {
        peerClosed = true
        updateInterest()
        closeIfPeerIsDone()
    }

    /// Once the peer has half-closed and nothing more can be answered, close (after flushing).
    func closeIfPeerIsDone() {
        guard peerClosed, phase == .open, !inFlight else { return }
        if pendingOutboundBytes == 0 {
            closeNow()
        } else {
            closeAfterResponse = true
        }
    }

    private func discardInput() {
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let result = scratch.withUnsafeMutableBytes { raw in
                Result { () throws(SystemError) -> Int? in try socket.read(into: raw) }
            }
            switch result {
            case .failure, .success(0): closeNow(); return
            case .success(nil): return
            case .success: continue
            }
        }
    }

    func pauseReading() {
        readPaused = true
        updateInterest()
    }

    func resumeReading() {
        readPaused = false
        updateInterest()
    }

    private func updateInterest() {
        guard phase != .closed else { return }
        var wanted: UInt32 = 0
        if !peerClosed && (!readPaused || phase == .lingering) { wanted |= LoopEvents.readable }
        if wantWrite { wanted |= LoopEvents.writable }
        if wanted != interest {
            interest = wanted
            loop.modify(socket.fd, events: wanted)
        }
    }

    // MARK: Writing

    /// Sends `bytes` after anything already queued; queues what the socket cannot take now.
    func send(_ bytes: [UInt8]) {
        guard phase == .open else { return }
        if outboundOffset == outbound.count {
            var written = 0
            while written < bytes.count {
                let result = bytes.withUnsafeBytes { raw in
                    Result { () throws(SystemError) -> Int? in try socket.send(UnsafeRawBufferPointer(rebasing: raw[written...])) }
                }
                switch result {
                case .failure:
                    closeNow()
                    return
                case .success(nil):
                    outbound.removeAll(keepingCapacity: true)
                    outbound.append(contentsOf: bytes[written...])
                    outboundOffset = 0
                    wantWrite = true
                    updateInterest()
                    return
                case .success(let count?):
                    written += count
                }
            }
            outboundDrained()
        } else {
            outbound.append(contentsOf: bytes)
        }
    }

    /// Bytes queued but not yet accepted by the kernel.
    var pendingOutboundBytes: Int { outbound.count - outboundOffset }

    private func flushOutbound() {
        guard phase == .open else { return }
        while outboundOffset < outbound.count {
            let result = outbound.withUnsafeBytes { raw in
                Result { () throws(SystemError) -> Int? in try socket.send(UnsafeRawBufferPointer(rebasing: raw[outboundOffset...])) }
            }
            switch result {
            case .failure:
                closeNow()
                return
            case .success(nil):
                return
            case .success(let count?):
                outboundOffset += count
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
        if !drainWaiters.isEmpty {
            let waiters = drainWaiters
            drainWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
        if closeAfterResponse && !inFlight { beginLinger() }
    }

    /// Suspends a body stream while more than the high-water mark is queued.
    func waitForDrain(_ continuation: CheckedContinuation<Void, any Error>) {
        guard phase == .open else {
            continuation.resume(throwing: SystemError(function: "send", errno: 32))
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
        socket.shutdownWrite()
        buffer.removeAll()
        readPaused = false
        updateInterest()
        setDeadline(after: .seconds(2), .closeSilently)
    }

    /// Shutdown has begun: idle connections close now, busy ones after their current response.
    func beginGracefulClose() {
        guard phase == .open else { return }
        closeAfterResponse = true
        if !inFlight && buffer.count == 0 && parser.isAtMessageBoundary { closeNow() }
    }

    func closeNow() {
        guard phase != .closed else { return }
        phase = .closed
        loop.deregister(socket.fd)
        socket.close()
        let waiters = drainWaiters
        drainWaiters.removeAll()
        for waiter in waiters { waiter.resume(throwing: SystemError(function: "send", errno: 32)) }
        if let waiter = handlerWaiter {
            handlerWaiter = nil
            waiter.resume(returning: nil)
        }
        shared.remove(self)
    }

    // MARK: Deadline (one re-armed timer per connection)

    func setDeadline(after delay: Duration, _ action: DeadlineAction) {
        deadline = MonotonicClock.nowNanoseconds() &+ MonotonicClock.nanoseconds(delay)
        deadlineAction = action
        armTimer()
    }

    func clearDeadline() { deadline = 0 }

    private func armTimer() {
        guard deadline != 0, armedAt == 0 || armedAt > deadline else { return }
        let at = deadline
        armedAt = at
        _ = loop.scheduleTimer(at: at) { [weak self] in self?.timerFired(at: at) }
    }

    private func timerFired(at: UInt64) {
        if armedAt == at { armedAt = 0 }
        guard phase != .closed, deadline != 0 else { return }
        if MonotonicClock.nowNanoseconds() >= deadline {
            deadline = 0
            switch deadlineAction {
            case .closeSilently:
                closeNow()
            case .requestTimeout:
                failRequest(HTTPParseError(status: 408, reason: "request not received within \(shared.configuration.headerReadTimeout)"))
            }
        } else {
            armTimer()
        }
    }
}
