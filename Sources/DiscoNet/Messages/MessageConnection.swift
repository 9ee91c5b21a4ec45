// MARK: - One connection of a TCP message server

/// One accepted connection: reads length-prefixed messages, answers each through the listener's
/// responder, writes the framed answers with back-pressure, and closes on an idle timeout, an
/// empty answer, a bad frame or the peer's end of stream.
final class MessageConnection: EventLoopSelectable {
    private enum Phase {
        case open
        /// Answers are still being sent; then the connection closes.
        case closingAfterSend
        case closed
    }

    private let socket: Socket
    private unowned let listener: MessageListener
    private let inbound = ReceiveBuffer(capacity: 4096)
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    private var phase = Phase.open
    private var interest: UInt32 = 0
    private var lastActivity: UInt64 = 0
    private var idleTimer: TimerID?

    /// A whole message and its length prefix.
    private static let maxFrame = 2 + Int(UInt16.max)

    init(socket: Socket, listener: MessageListener) {
        self.socket = socket
        self.listener = listener
    }

    private var loop: EventLoop { listener.loop }

    func start() {
        do {
            try loop.register(socket.fd, self, events: 0)
        } catch {
            closeNow()
            return
        }
        lastActivity = MonotonicClock.nowNanoseconds()
        armIdleTimer(at: lastActivity &+ MonotonicClock.nanoseconds(listener.configuration.idleTimeout))
        updateInterest()
    }

    // MARK: Readiness

    func handleReadiness(_ events: UInt32) {
        if events & LoopEvents.writable != 0 { flush() }
        if events & (LoopEvents.readable | LoopEvents.error) != 0, phase == .open { read() }
        if events & LoopEvents.error != 0, phase != .closed, interest & LoopEvents.readable == 0 {
            closeNow()  // hung up while we were not reading: nothing more can be delivered
        }
    }

    private func read() {
        guard let space = inbound.writableSpace(maxCapacity: Self.maxFrame) else {
            updateInterest()
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
        guard count > 0 else {
            // The peer is done sending: answer what is complete, then close.
            answerBuffered()
            closeAfterSend()
            if phase == .closingAfterSend { flush() }
            return
        }
        inbound.didWrite(count)
        answerBuffered()
        flush()
    }

    /// Answers every complete message in the buffer, in order, while the output is not backed up.
    private func answerBuffered() {
        while phase == .open, outbound.count - outboundOffset <= listener.configuration.maxPendingOutput, inbound.count >= 2 {
            let bytes = inbound.readable
            let length = Int(bytes[0]) << 8 | Int(bytes[1])
            guard inbound.count >= 2 + length else { break }
            let request = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[2..<(2 + length)])
            let answer = listener.responder.respond(to: request, over: .stream, into: listener.responseBuffer)
            inbound.consume(2 + length)
            listener.statistics.messages += 1
            lastActivity = MonotonicClock.nowNanoseconds()
            guard answer > 0 else {
                closeAfterSend()
                return
            }
            let size = min(answer, listener.responseBuffer.count)
            outbound.append(UInt8(size >> 8))
            outbound.append(UInt8(size & 0xFF))
            outbound.append(contentsOf: UnsafeRawBufferPointer(rebasing: listener.responseBuffer[0..<size]))
        }
        updateInterest()
    }

    // MARK: Writing

    private func flush() {
        while outboundOffset < outbound.count {
            let result = outbound.withUnsafeBytes { raw in
                Result { () throws(SystemError) -> Int? in try socket.send(UnsafeRawBufferPointer(rebasing: raw[outboundOffset...])) }
            }
            switch result {
            case .success(nil):
                updateInterest()
                return
            case .success(let sent?):
                outboundOffset += sent
            case .failure:
                closeNow()
                return
            }
        }
        outbound.removeAll(keepingCapacity: outbound.capacity <= 64 * 1024)
        outboundOffset = 0
        if phase == .closingAfterSend {
            closeNow()
            return
        }
        // Reading may have paused for the output: answer what waits, then listen again.
        if inbound.count >= 2 {
            answerBuffered()
            if outboundOffset < outbound.count { flush() }
        }
        updateInterest()
    }

    // MARK: Interest, timers, closing

    private func updateInterest() {
        guard phase != .closed else { return }
        var wanted: UInt32 = 0
        let backedUp = outbound.count - outboundOffset > listener.configuration.maxPendingOutput
        if phase == .open, !backedUp { wanted |= LoopEvents.readable }
        if outboundOffset < outbound.count { wanted |= LoopEvents.writable }
        if wanted != interest {
            interest = wanted
            loop.modify(socket.fd, events: wanted)
        }
    }

    private func armIdleTimer(at deadline: UInt64) {
        idleTimer = loop.scheduleTimer(at: deadline) { [weak self] in self?.idleTimerFired() }
    }

    private func idleTimerFired() {
        idleTimer = nil
        guard phase != .closed else { return }
        let deadline = lastActivity &+ MonotonicClock.nanoseconds(listener.configuration.idleTimeout)
        if MonotonicClock.nowNanoseconds() >= deadline {
            listener.statistics.timedOut += 1
            closeNow()
        } else {
            armIdleTimer(at: deadline)
        }
    }

    private func closeAfterSend() {
        guard phase == .open else { return }
        phase = .closingAfterSend
        if outboundOffset >= outbound.count { closeNow() } else { updateInterest() }
    }

    func closeNow() {
        guard phase != .closed else { return }
        phase = .closed
        if let idleTimer { loop.cancelTimer(idleTimer) }
        idleTimer = nil
        loop.deregister(socket.fd)
        socket.close()
        listener.remove(self)
    }
}
