// MARK: - A byte stream driven by the loop, with continuation- or callback-based reads and writes

/// The loop-side half of a ``TCPConnection``: one reader and a queue of writers over a
/// ``ByteStreamTransport``, resumed from readiness. Read interest is set only while a read waits;
/// each read and write is attempted directly first, so a ready stream costs no epoll round trip.
final class TCPChannel: ByteStreamTransportHandler, @unchecked Sendable {
    // @unchecked Sendable: all mutable state (and the transport) is touched only on `loop`'s
    // thread; the async API (TCPConnection) hops there with `loop.execute` before touching it.
    // The per-operation state is `@exclusivity(unchecked)`: loop-confined, and no access to it
    // overlaps another (a waiter is taken out before it is resumed), so the runtime check each
    // access would pay is skipped.

    let loop: EventLoop
    let transport: any ByteStreamTransport
    let peer: String
    private(set) var closed = false
    private var interest: TransportInterest = []
    /// The waiting reader (kept as two plain fields: an optional tuple is copied through
    /// runtime value witnesses on every read).
    @exclusivity(unchecked) private var reader: ReadWaiter?
    private var readerMax = 0
    /// Whether a read waits, kept beside `reader` (set and cleared with it): testing the
    /// optional itself copies the waiter.
    private var hasReader = false
    @exclusivity(unchecked) private var writes: [Write] = []
    private var shutdownAfterWrites = false
    /// Why the channel closed; reads and writes after that fail with it.
    private var closeReason: NetworkError?
    /// Bytes read after a hang-up that nobody had asked for yet, served before the end.
    @exclusivity(unchecked) private var stash: [[UInt8]] = []
    /// The stream ended cleanly after a hang-up (read to its end, then closed): reads past the
    /// stash return nil instead of failing.
    private var endedCleanly = false
    /// When the current operation must have finished (monotonic nanoseconds; 0: none). Past
    /// it, the channel closes with ``NetworkError/Code-swift.struct/timedOut``.
    private var deadline: UInt64 = 0
    /// The deadline the one armed timer fires at (0: no timer armed).
    private var deadlineArmedAt: UInt64 = 0
    /// What the deadline timer calls; cleared when the channel closes (see ``TimerTarget``).
    private lazy var timerTarget = TimerTarget(self)
    /// Run once when the channel closes (see ``whenClosed(_:)``).
    private var closeHandlers: [() -> Void] = []

    private struct Write {
        let bytes: [UInt8]
        var offset: Int
        let waiter: WriteWaiter
        /// Runs on the loop the moment the transport has taken the last byte.
        let onAccepted: (@Sendable () -> Void)?
    }

    init(transport: any ByteStreamTransport, peer: String) {
        self.transport = transport
        self.loop = transport.loop
        self.peer = peer
    }

    /// Takes over the transport's readiness (on the loop).
    func adopt() {
        guard !transport.isClosed else {
            close(reason: NetworkError(.connectionClosed, peer: peer, detail: "closed before use"))
            return
        }
        transport.setHandler(self)
        // Registers the stream even with no interest, so a hang-up while idle is noticed.
        transport.setInterest(interest)
    }

    // MARK: Read and write

    func read(max: Int, _ continuation: CheckedContinuation<[UInt8]?, any Error>) {
        read(max: max, waiter: .task(continuation))
    }

    /// Reads on the loop thread without a task: `completion` runs on the loop, possibly before
    /// this returns (bytes already there), with the bytes, nil at the end of the stream, or the
    /// channel's error.
    ///
    /// `tryNow: false` waits for readiness before the first attempt: for a response that
    /// cannot have arrived yet (the request was just sent), that saves a read returning
    /// `EAGAIN`.
    func read(max: Int, tryNow: Bool = true, completion: @escaping (Result<[UInt8]?, any Error>) -> Void) {
        read(max: max, waiter: .callback(completion), tryNow: tryNow)
    }

    private func read(max: Int, waiter: ReadWaiter, tryNow: Bool = true) {
        if !stash.isEmpty {
            var piece = stash.removeFirst()
            if piece.count > max {
                stash.insert(Array(piece[max...]), at: 0)
                piece.removeSubrange(max...)
            }
            waiter.resume(returning: piece)
            return
        }
        if endedCleanly { waiter.resume(returning: nil); return }
        if let closeReason { waiter.resume(throwing: closeReason); return }
        precondition(!hasReader, "TCPConnection supports one reader at a time")
        reader = waiter
        hasReader = true
        readerMax = max
        if tryNow { attemptRead() } else { updateInterest() }
    }

    private func attemptRead() {
        guard hasReader else { return }
        let pendingMax = readerMax
        // Read into the loop's scratch buffer and copy out exactly what arrived.
        var bytes: [UInt8] = []
        let limit = min(pendingMax, EventLoop.readScratchSize)
        let result = loop.withReadScratch { scratch in
            let outcome = transport.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<limit]))
            if case .read(let count) = outcome { bytes = Array(UnsafeRawBufferPointer(rebasing: scratch[0..<count])) }
            return outcome
        }
        switch result {
        case .wouldBlock:
            updateInterest()
        case .read:
            // Moved out, not copied: the waiter holds a closure or a continuation.
            guard let pending = reader.take() else { return }
            hasReader = false
            updateInterest()
            pending.resume(returning: bytes)
        case .endOfStream:
            guard let pending = reader.take() else { return }
            hasReader = false
            updateInterest()
            pending.resume(returning: nil)
        case .failed(let error):
            // close(reason:) fails the waiting reader (still registered) with this error.
            close(reason: NetworkError(error.code, peer: peer, detail: error.detail))
        }
    }

    func write(_ bytes: [UInt8], _ continuation: CheckedContinuation<Void, any Error>, onAccepted: (@Sendable () -> Void)? = nil) {
        write(bytes, waiter: .task(continuation), onAccepted: onAccepted)
    }

    /// Writes on the loop thread without a task: `completion` runs on the loop once the
    /// transport has taken every byte (usually before this returns) or the channel failed.
    func write(_ bytes: [UInt8], completion: @escaping (Result<Void, any Error>) -> Void) {
        write(bytes, waiter: .callback(completion), onAccepted: nil)
    }

    private func write(_ bytes: [UInt8], waiter: WriteWaiter, onAccepted: (@Sendable () -> Void)?) {
        if let closeReason { waiter.resume(throwing: closeReason); return }
        var offset = 0
        var attempted = false
        if writes.isEmpty && !bytes.isEmpty {
            attempted = true
            // Nothing queued before it: the transport usually takes it all at once, and then
            // it is done without going through the queue. What it does not take is queued.
            switch bytes.withUnsafeBytes({ transport.write($0) }) {
            case .wrote(let count) where count == bytes.count:
                onAccepted?()
                waiter.resume(returning: ())
                return
            case .wrote(let count):
                offset = count
            case .wouldBlock:
                break
            case .failed(let error):
                // Queued first, so that closing fails it with the others.
                writes.append(Write(bytes: bytes, offset: 0, waiter: waiter, onAccepted: onAccepted))
                close(reason: NetworkError(error.code, peer: peer, detail: error.detail))
                return
            }
        }
        writes.append(Write(bytes: bytes, offset: offset, waiter: waiter, onAccepted: onAccepted))
        // After an attempt that left bytes, the transport is full: wait for it to drain.
        if attempted { updateInterest() } else if writes.count == 1 { flush() }
    }

    /// Half-closes the sending direction once every queued write has gone out.
    func shutdownWrite() {
        guard !closed else { return }
        if writes.isEmpty {
            transport.shutdownWrite()
        } else {
            shutdownAfterWrites = true
        }
    }

    private func flush() {
        while !writes.isEmpty {
            let offset = writes[0].offset
            if offset == writes[0].bytes.count {
                let done = writes.removeFirst()
                done.onAccepted?()
                done.waiter.resume(returning: ())
                continue
            }
            let result = writes[0].bytes.withUnsafeBytes { transport.write(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            switch result {
            case .wouldBlock:
                updateInterest()
                return
            case .wrote(let count):
                writes[0].offset += count
            case .failed(let error):
                close(reason: NetworkError(error.code, peer: peer, detail: error.detail))
                return
            }
        }
        if shutdownAfterWrites {
            shutdownAfterWrites = false
            transport.shutdownWrite()
        }
        updateInterest()
    }

    func transportReady(_ events: TransportEvents) {
        if events.contains(.writable) && !writes.isEmpty { flush() }
        if events.contains(.readable) {
            // Readable with nobody reading: stop watching until a read waits (see updateInterest).
            if hasReader { attemptRead() } else { updateInterest(keepingRead: false) }
        }
        if events.contains(.hangUp) && !hasReader && writes.isEmpty && !closed { drainAfterHangUp() }
    }

    /// A hang-up while nobody reads or writes (an idle pooled connection, or a half-closed
    /// splice leg whose peer has just finished too). epoll keeps reporting it regardless of
    /// interest, so the stream cannot stay registered: read what the peer sent before it hung
    /// up into the stash, then close. A clean end keeps those bytes readable, followed by the
    /// end of stream; a reset makes later reads fail with the reason.
    private func drainAfterHangUp() {
        while true {
            var bytes = [UInt8](repeating: 0, count: 64 * 1024)
            switch bytes.withUnsafeMutableBytes({ transport.read(into: $0) }) {
            case .read(let count):
                bytes.removeSubrange(count...)
                stash.append(bytes)
            case .endOfStream:
                endedCleanly = true
                close(reason: NetworkError(.connectionClosed, peer: peer, detail: "the peer finished and hung up"))
                return
            case .wouldBlock:
                close(reason: NetworkError(.connectionReset, peer: peer, detail: "peer hung up"))
                return
            case .failed(let error):
                close(reason: NetworkError(error.code, peer: peer, detail: error.detail))
                return
            }
        }
    }

    // MARK: Deadline (one re-armed timer per channel)

    /// Closes the channel (failing a pending read or write) once `at` passes, unless cleared or
    /// moved first. Moving it later costs no timer: the armed one re-arms itself when it fires
    /// early, so a deadline per request on a kept-alive connection is a store, not a timer.
    func setDeadline(at: UInt64) {
        deadline = at
        armDeadline()
    }

    func clearDeadline() { deadline = 0 }

    private func armDeadline() {
        guard deadline != 0, !closed, deadlineArmedAt == 0 || deadlineArmedAt > deadline else { return }
        let at = deadline
        deadlineArmedAt = at
        let target = timerTarget
        _ = loop.scheduleTimer(at: at) { target.target?.deadlineTimerFired(at: at) }
    }

    private func deadlineTimerFired(at: UInt64) {
        if deadlineArmedAt == at { deadlineArmedAt = 0 }
        guard deadline != 0, !closed else { return }
        if MonotonicClock.nowNanoseconds() >= deadline {
            deadline = 0
            close(reason: NetworkError(.timedOut, peer: peer, detail: "the connection's deadline passed"))
        } else {
            armDeadline()
        }
    }

    // MARK: Interest and closing

    /// Read interest is added when a read has to wait and dropped lazily: only when the stream
    /// turns readable with no read waiting (or `keepingRead` is false). A connection that
    /// alternates writes and reads (a pooled HTTP connection) then keeps its interest, and a
    /// request/response costs no `epoll_ctl`.
    private func updateInterest(keepingRead: Bool = true) {
        guard !closed else { return }
        var wanted: TransportInterest = []
        if hasReader || (keepingRead && interest.contains(.read)) { wanted.insert(.read) }
        if !writes.isEmpty { wanted.insert(.write) }
        if wanted != interest {
            interest = wanted
            transport.setInterest(wanted)
        }
    }

    /// True when the peer has already closed or reset, or sent bytes nobody has read (checked
    /// without consuming them; asked of idle connections only).
    var peerHasClosed: Bool { closed || transport.peerHasClosed() }

    /// True when input arrived that no read has taken since the last one came back short (no
    /// system call; false when the transport cannot tell, see ``ByteStreamTransport/mayHaveUnreadInput``).
    var mayHaveUnreadInput: Bool { transport.mayHaveUnreadInput }

    func close(reason: NetworkError? = nil) {
        guard !closed else { return }
        closed = true
        timerTarget.target = nil
        let error = reason ?? NetworkError(.connectionClosed, peer: peer, detail: "closed locally")
        closeReason = error
        transport.close()
        if hasReader, let pending = reader.take() {
            hasReader = false
            pending.resume(throwing: error)
        }
        let waiting = writes
        writes.removeAll()
        for write in waiting { write.waiter.resume(throwing: error) }
        let handlers = closeHandlers
        closeHandlers.removeAll()
        for handler in handlers { handler() }
    }

    /// Runs `handler` once the channel has closed (now, if it already has), whoever closed it:
    /// for one nobody reads or writes, a hang-up or reset noticed while idle.
    func whenClosed(_ handler: @escaping () -> Void) {
        if closed { handler() } else { closeHandlers.append(handler) }
    }
}

// MARK: - Who waits for a channel operation

// A task suspended on a continuation, or code on the loop thread waiting with a callback (the
// inline paths, which run without a task). One concrete enum per operation rather than a
// generic one: a callback stored in a generic payload is wrapped in a reabstraction thunk,
// an allocation on every read and write of the inline path.

/// Who waits for a read: the bytes, nil at the end of the stream, or the channel's error.
enum ReadWaiter {
    case task(CheckedContinuation<[UInt8]?, any Error>)
    case callback((Result<[UInt8]?, any Error>) -> Void)

    func resume(returning value: sending [UInt8]?) {
        switch self {
        case .task(let continuation): continuation.resume(returning: value)
        case .callback(let body): body(.success(value))
        }
    }

    func resume(throwing error: any Error) {
        switch self {
        case .task(let continuation): continuation.resume(throwing: error)
        case .callback(let body): body(.failure(error))
        }
    }
}

/// Who waits for a write to be taken whole by the transport.
enum WriteWaiter {
    case task(CheckedContinuation<Void, any Error>)
    case callback((Result<Void, any Error>) -> Void)

    func resume(returning value: Void) {
        switch self {
        case .task(let continuation): continuation.resume(returning: value)
        case .callback(let body): body(.success(value))
        }
    }

    func resume(throwing error: any Error) {
        switch self {
        case .task(let continuation): continuation.resume(throwing: error)
        case .callback(let body): body(.failure(error))
        }
    }
}
