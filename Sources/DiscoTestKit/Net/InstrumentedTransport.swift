import DiscoNet
import Synchronization

// MARK: - A transport layered on TCP, for tests

/// What an ``InstrumentedTransport`` saw, readable from any thread while the connection runs.
public final class TransportProbe: Sendable {
    private let read = Atomic<Int>(0)
    private let written = Atomic<Int>(0)
    private let writes = Atomic<Int>(0)
    private let made = Atomic<Int>(0)
    private let readWanted = Atomic<Bool>(false)
    private let pauses = Atomic<Int>(0)

    public init() {}

    /// Application bytes read from the transport (by the server or client above it).
    public var bytesRead: Int { read.load(ordering: .acquiring) }
    /// Application bytes the transport took in writes.
    public var bytesWritten: Int { written.load(ordering: .acquiring) }
    /// Calls to `write` that took at least one byte.
    public var writeCalls: Int { writes.load(ordering: .acquiring) }
    /// Transports made by the factory so far.
    public var transportsMade: Int { made.load(ordering: .acquiring) }
    /// Whether the user of the most recent transport currently asks to read.
    public var wantsRead: Bool { readWanted.load(ordering: .acquiring) }
    /// How often a user stopped asking to read (back-pressure pauses).
    public var readPauses: Int { pauses.load(ordering: .acquiring) }

    fileprivate func recordMade() { made.add(1, ordering: .relaxed) }
    fileprivate func recordRead(_ count: Int) { read.add(count, ordering: .releasing) }
    fileprivate func recordWrite(_ count: Int) {
        written.add(count, ordering: .releasing)
        writes.add(1, ordering: .relaxed)
    }
    fileprivate func recordInterest(_ interest: TransportInterest) {
        let wanted = interest.contains(.read)
        let before = readWanted.exchange(wanted, ordering: .acquiringAndReleasing)
        if before && !wanted { pauses.add(1, ordering: .relaxed) }
    }
}

/// Layers ``InstrumentedTransport`` over every TCP connection: the shape a TLS factory has.
public struct InstrumentedTransportFactory: ByteStreamTransportFactory {
    public let probe: TransportProbe
    public let maxWriteSize: Int

    /// `maxWriteSize` 1 makes every write take a single byte.
    public init(probe: TransportProbe = TransportProbe(), maxWriteSize: Int = .max) {
        self.probe = probe
        self.maxWriteSize = max(1, maxWriteSize)
    }

    public func makeTransport(over tcp: TCPTransport, role: TransportRole) throws -> any ByteStreamTransport {
        probe.recordMade()
        return InstrumentedTransport(over: tcp, probe: probe, maxWriteSize: maxWriteSize)
    }
}

/// A byte-stream transport stacked on a ``TCPTransport`` the way a TLS transport would be: it is
/// the TCP transport's handler and forwards readiness to its own handler, reads through it, and
/// writes at most `maxWriteSize` bytes per call (so HTTP must cope with any partial write). It
/// counts bytes and records read interest in a ``TransportProbe``.
public final class InstrumentedTransport: ByteStreamTransport, ByteStreamTransportHandler, @unchecked Sendable {
    // @unchecked Sendable: loop-confined like the TCP transport it wraps; only `probe` (atomics)
    // is read from other threads.
    public let loop: EventLoop
    private let tcp: TCPTransport
    private let probe: TransportProbe
    private let maxWriteSize: Int
    private var handler: (any ByteStreamTransportHandler)?

    init(over tcp: TCPTransport, probe: TransportProbe, maxWriteSize: Int) {
        self.tcp = tcp
        self.loop = tcp.loop
        self.probe = probe
        self.maxWriteSize = maxWriteSize
    }

    public var localAddress: SocketAddress? { tcp.localAddress }
    public var remoteAddress: SocketAddress? { tcp.remoteAddress }
    public var isClosed: Bool { tcp.isClosed }

    public func setHandler(_ handler: (any ByteStreamTransportHandler)?) {
        self.handler = handler
        tcp.setHandler(handler == nil ? nil : self)
    }

    public func setInterest(_ interest: TransportInterest) {
        probe.recordInterest(interest)
        tcp.setInterest(interest)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportReadResult {
        let result = tcp.read(into: buffer)
        if case .read(let count) = result { probe.recordRead(count) }
        return result
    }

    public func write(_ bytes: UnsafeRawBufferPointer) -> TransportWriteResult {
        let piece = UnsafeRawBufferPointer(rebasing: bytes.prefix(maxWriteSize))
        let result = tcp.write(piece)
        if case .wrote(let count) = result { probe.recordWrite(count) }
        return result
    }

    public func shutdownWrite() { tcp.shutdownWrite() }
    public func peerHasClosed() -> Bool { tcp.peerHasClosed() }

    public func close() {
        handler = nil
        tcp.close()
    }

    public var mayHaveUnreadInput: Bool { tcp.mayHaveUnreadInput }

    public func abort() {
        handler = nil
        tcp.abort()
    }

    public func transportReady(_ events: TransportEvents) {
        handler?.transportReady(events)
    }
}
