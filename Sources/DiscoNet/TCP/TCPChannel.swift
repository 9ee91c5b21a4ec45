#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

// MARK: - A TCP socket driven by the loop, with continuation-based reads and writes

/// The loop-side half of a ``TCPConnection``: one reader and a queue of writers, resumed from
/// readiness events. Read interest is registered only while a read waits; each read and write is
/// attempted directly first, so a ready socket costs no epoll round trip.
final class TCPChannel: EventLoopSelectable, @unchecked Sendable {
    // @unchecked Sendable: all mutable state is touched only on `loop`'s thread; the async API
    // (TCPConnection) hops there with `loop.execute` before touching it.

    let loop: EventLoop
    let socket: Socket
    let peer: String
    private var registered = false
    private(set) var closed = false
    private var interest: UInt32 = 0
    private var connectWaiter: CheckedContinuation<Void, any Error>?
    private var connectTimer: TimerID?
    private var reader: (max: Int, continuation: CheckedContinuation<[UInt8]?, any Error>)?
    private var writes: [(bytes: [UInt8], offset: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    private var closeReason: NetworkError?

    init(socket: Socket, loop: EventLoop, peer: String) {
        self.socket = socket
        self.loop = loop
        self.peer = peer
    }

    /// Registers an already-connected (accepted) socket with the loop.
    func adopt() {
        do {
            try register()
        } catch {
            fail(NetworkError(.ioFailed, peer: peer, detail: error.description))
        }
    }

    // MARK: Connect

    func startConnect(to address: SocketAddress, timeout: Duration, _ continuation: CheckedContinuation<Void, any Error>) {
        do {
            try register()
            if try socket.connect(to: address) {
                continuation.resume()
                return
            }
        } catch {
            let code: NetworkError.Code = error.errno == ECONNREFUSED ? .connectRefused : .connectFailed
            fail(NetworkError(code, peer: peer, detail: error.description))
            continuation.resume(throwing: NetworkError(code, peer: peer, detail: error.description))
            return
        }
        connectWaiter = continuation
        connectTimer = loop.scheduleTimer(after: timeout) { [weak self] in
            guard let self, let waiter = self.connectWaiter else { return }
            self.connectWaiter = nil
            let error = NetworkError(.connectTimeout, peer: self.peer, detail: "no answer within \(timeout)")
            self.fail(error)
            waiter.resume(throwing: error)
        }
        setInterest(LoopEvents.writable)
    }

    private func finishConnect() {
        guard let waiter = connectWaiter else { return }
        connectWaiter = nil
        if let timer = connectTimer { loop.cancelTimer(timer) }
        let code = (try? socket.pendingError()) ?? EIO
        if code == 0 {
            updateInterest()
            waiter.resume()
        } else {
            let error = NetworkError(code == ECONNREFUSED ? .connectRefused : .connectFailed, peer: peer,
                                     detail: SystemError(function: "connect", errno: code).description)
            fail(error)
            waiter.resume(throwing: error)
        }
    }

    // MARK: Read and write

    func read(max: Int, _ continuation: CheckedContinuation<[UInt8]?, any Error>) {
        if let closeReason { continuation.resume(throwing: closeReason); return }
        precondition(reader == nil, "TCPConnection supports one reader at a time")
        reader = (max, continuation)
        attemptRead()
    }

    private func attemptRead() {
        guard let pending = reader else { return }
        var bytes = [UInt8](repeating: 0, count: pending.max)
        let result = bytes.withUnsafeMutableBytes { raw in
            Result { () throws(SystemError) -> Int? in try socket.read(into: raw) }
        }
        switch result {
        case .success(nil):
            updateInterest()
        case .success(let count?):
            reader = nil
            updateInterest()
            if count == 0 {
                pending.continuation.resume(returning: nil)
            } else {
                bytes.removeSubrange(count...)
                pending.continuation.resume(returning: bytes)
            }
        case .failure(let error):
            reader = nil
            let failure = NetworkError(error.errno == ECONNRESET ? .connectionReset : .ioFailed, peer: peer, detail: error.description)
            fail(failure)
            pending.continuation.resume(throwing: failure)
        }
    }

    func write(_ bytes: [UInt8], _ continuation: CheckedContinuation<Void, any Error>) {
        if let closeReason { continuation.resume(throwing: closeReason); return }
        writes.append((bytes, 0, continuation))
        if writes.count == 1 { flush() }
    }

    private func flush() {
        while !writes.isEmpty {
            let (bytes, offset, continuation) = writes[0]
            if offset == bytes.count {
                writes.removeFirst()
                continuation.resume()
                continue
            }
            let result = bytes.withUnsafeBytes { raw in
                Result { () throws(SystemError) -> Int? in try socket.send(UnsafeRawBufferPointer(rebasing: raw[offset...])) }
            }
            switch result {
            case .success(nil):
                updateInterest()
                return
            case .success(let count?):
                writes[0].offset += count
            case .failure(let error):
                let code: NetworkError.Code = (error.errno == ECONNRESET || error.errno == EPIPE) ? .connectionReset : .ioFailed
                fail(NetworkError(code, peer: peer, detail: error.description))
                return
            }
        }
        updateInterest()
    }

    func handleReadiness(_ events: UInt32) {
        if connectWaiter != nil {
            finishConnect()
            return
        }
        if events & (LoopEvents.writable | LoopEvents.error) != 0 && !writes.isEmpty { flush() }
        if events & (LoopEvents.readable | LoopEvents.error) != 0 && reader != nil { attemptRead() }
        if events & LoopEvents.error != 0 && reader == nil && writes.isEmpty && !closed {
            // Reset or hang-up while idle (e.g. a pooled connection): epoll keeps reporting it
            // regardless of interest, so close now; the next user sees the reason.
            let code = (try? socket.pendingError()) ?? 0
            fail(NetworkError(.connectionReset, peer: peer, detail: code == 0 ? "peer hung up" : SystemError(function: "socket", errno: code).description))
        }
    }

    // MARK: Interest and closing

    private func register() throws(SystemError) {
        try loop.register(socket.fd, self, events: 0)
        registered = true
    }

    private func updateInterest() {
        var wanted: UInt32 = 0
        if reader != nil { wanted |= LoopEvents.readable }
        if !writes.isEmpty { wanted |= LoopEvents.writable }
        setInterest(wanted)
    }

    private func setInterest(_ wanted: UInt32) {
        guard registered, !closed, wanted != interest else { return }
        interest = wanted
        loop.modify(socket.fd, events: wanted)
    }

    /// True when the peer has already closed or reset (checked without consuming data).
    var peerHasClosed: Bool { closed || socket.peerHasClosed() }

    private func fail(_ error: NetworkError) {
        close(reason: error)
    }

    func close(reason: NetworkError? = nil) {
        guard !closed else { return }
        closed = true
        let error = reason ?? NetworkError(.connectionClosed, peer: peer, detail: "closed locally")
        closeReason = error
        if registered { loop.deregister(socket.fd) }
        socket.close()
        if let waiter = connectWaiter {
            connectWaiter = nil
            waiter.resume(throwing: error)
        }
        if let pending = reader {
            reader = nil
            pending.continuation.resume(throwing: error)
        }
        let waiting = writes
        writes.removeAll()
        for write in waiting { write.continuation.resume(throwing: error) }
    }
}
