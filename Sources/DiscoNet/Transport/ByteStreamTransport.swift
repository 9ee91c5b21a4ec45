// MARK: - A connected byte stream on an event loop

/// What a transport's user wants to be told about: that bytes may be read, that bytes may be
/// written, or both. An empty set parks the stream (back-pressure: nothing is read).
public struct TransportInterest: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let read = TransportInterest(rawValue: 1)
    public static let write = TransportInterest(rawValue: 2)
}

/// Readiness a transport reports to its handler. Spurious reports are allowed: a handler tries
/// the operation and accepts `.wouldBlock`.
public struct TransportEvents: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A read may make progress (bytes, end of stream, or an error to report).
    public static let readable = TransportEvents(rawValue: 1)
    /// A write may make progress.
    public static let writable = TransportEvents(rawValue: 2)
    /// The connection was reset or fully closed; reported even when no interest is set, so a
    /// handler that has parked the stream still learns that it is dead.
    public static let hangUp = TransportEvents(rawValue: 4)
}

/// The outcome of ``ByteStreamTransport/read(into:)``.
public enum TransportReadResult: Sendable {
    /// This many bytes (at least one) were placed at the start of the buffer.
    case read(Int)
    /// Nothing to read now; wait for `.readable`.
    case wouldBlock
    /// The peer finished sending (a TCP FIN; for TLS a close_notify).
    case endOfStream
    /// The stream failed; close it.
    case failed(NetworkError)
}

/// The outcome of ``ByteStreamTransport/write(_:)``.
public enum TransportWriteResult: Sendable {
    /// This many bytes (at least one) were taken from the start of the buffer.
    case wrote(Int)
    /// Nothing could be taken now; wait for `.writable`.
    case wouldBlock
    /// The stream failed; close it.
    case failed(NetworkError)
}

/// Receives readiness from a ``ByteStreamTransport``. Called on the transport's loop thread only.
public protocol ByteStreamTransportHandler: AnyObject {
    /// Some of `events` may now make progress.
    func transportReady(_ events: TransportEvents)
}

/// A connected, non-blocking byte stream driven by one ``EventLoop``: the seam between byte
/// protocols (HTTP, internode frames, a splice) and what carries the bytes (plain TCP now; TLS
/// over the same descriptor later).
///
/// Everything is called on ``loop``'s thread. The user states what it wants with
/// ``setInterest(_:)`` and is told through its handler when to try; the transport decides which
/// descriptor readiness that takes. A TLS transport, for example, may need the socket to be
/// *writable* to make a read progress (`SSL_ERROR_WANT_WRITE`) or readable to make a write
/// progress, and runs its handshake before the first byte: until then `read` and `write` answer
/// `.wouldBlock` and it reports readiness when they can progress. A transport that holds
/// decrypted bytes the socket no longer signals must report `.readable` itself (for example
/// with ``EventLoop/execute(_:)``).
///
/// `write` must accept being called again with the same bytes after `.wouldBlock` (TLS:
/// `SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER` and `SSL_MODE_ENABLE_PARTIAL_WRITE`).
///
/// Transports are `Sendable` only so they can be handed to their loop: a conforming type is
/// loop-confined (`@unchecked Sendable` with that argument) and never used from another thread.
public protocol ByteStreamTransport: AnyObject, Sendable {
    /// The loop that owns this stream.
    var loop: EventLoop { get }
    /// The local address, when known.
    var localAddress: SocketAddress? { get }
    /// The peer's address, when known.
    var remoteAddress: SocketAddress? { get }
    /// True once ``close()`` has run.
    var isClosed: Bool { get }

    /// Sets who is told about readiness (replacing any previous handler, as a hand-off does).
    /// The transport holds the handler strongly until it is replaced or the stream closes.
    func setHandler(_ handler: (any ByteStreamTransportHandler)?)
    /// What the handler wants to hear about from now on.
    func setInterest(_ interest: TransportInterest)
    /// Reads into `buffer` without blocking.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportReadResult
    /// Writes from `bytes` without blocking.
    func write(_ bytes: UnsafeRawBufferPointer) -> TransportWriteResult
    /// Finishes the sending direction (TCP: `shutdown(SHUT_WR)`; TLS: close_notify, then that)
    /// while reading goes on.
    func shutdownWrite()
    /// True when the peer has already closed or reset the stream, or application bytes arrived
    /// that nobody has read (on an idle connection: it is out of step), checked without
    /// consuming them (used before reusing an idle pooled connection).
    func peerHasClosed() -> Bool
    /// Closes the stream and drops the handler. Idempotent.
    func close()
    /// Closes the stream so that the peer sees it cut short, not ended (TCP: a reset instead of
    /// a FIN; TLS: without close_notify, then that reset): for a message delimited by the end
    /// of the stream that could not be completed. Idempotent; a closed stream stays closed.
    func abort()
    /// Whether input (bytes, the end of the stream, an error) may have arrived since a read
    /// last came back short, known without a system call; false when the transport cannot tell
    /// (``peerHasClosed()`` then asks the socket). Asked of an idle connection before it is
    /// used again: anything that arrived while nobody was reading puts it out of step.
    var mayHaveUnreadInput: Bool { get }
}

extension ByteStreamTransport {
    /// A transport that cannot tell the two apart closes.
    public func abort() { close() }
    /// A transport that keeps no readiness of its own cannot tell.
    public var mayHaveUnreadInput: Bool { false }
}

// MARK: - Layering a transport over TCP

/// Which side of a connection a transport serves (a TLS transport handshakes differently).
public struct TransportRole: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case server
        case client(serverName: String)
    }

    let kind: Kind

    /// The accepting side.
    public static let server = TransportRole(kind: .server)
    /// The connecting side; `serverName` is the host it asked for (TLS: SNI and verification).
    public static func client(serverName: String) -> TransportRole { TransportRole(kind: .client(serverName: serverName)) }

    /// The host the client asked for; nil on the server side.
    public var serverName: String? {
        if case .client(let name) = kind { return name }
        return nil
    }
}

/// Turns a connected TCP stream into the transport that HTTP (or anything else) runs over.
/// ``PlainTransportFactory`` uses TCP as it is; a TLS factory wraps it. Called on the TCP
/// transport's loop, before any byte is exchanged.
public protocol ByteStreamTransportFactory: Sendable {
    func makeTransport(over tcp: TCPTransport, role: TransportRole) throws -> any ByteStreamTransport
}

/// Plain TCP: the transport is the TCP stream itself.
public struct PlainTransportFactory: ByteStreamTransportFactory {
    public init() {}

    public func makeTransport(over tcp: TCPTransport, role: TransportRole) throws -> any ByteStreamTransport { tcp }
}
