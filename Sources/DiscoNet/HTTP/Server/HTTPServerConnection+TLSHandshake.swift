import DiscoCore
import Synchronization

// MARK: - One server connection: a TLS handshake where a request was expected

extension HTTPServerConnection {
    /// The answer to a TLS handshake on a plain HTTP port (nginx answers it 400 too).
    static let tlsHandshakeRefusal = HTTPParseError(
        status: 400, reason: "a TLS handshake was sent to a plain HTTP port; use http:// (this port does not speak TLS)")

    /// Refuses a connection whose first bytes are a TLS record (0x16, a handshake, then major
    /// version 3): a client speaking HTTPS to this plain port. Its hello is no request: refused
    /// for a bare CR or LF somewhere in it, or, holding neither, waited on until the header
    /// timeout. It is answered 400 at once and the connection closes (the client, which cannot
    /// read a plain answer, fails at once too). Returns true when it refused.
    ///
    /// Asked only before the connection's first request has begun: the buffer then starts at
    /// the connection's first byte.
    func refusesTLSHandshake() -> Bool {
        let bytes = buffer.readable
        guard bytes.count >= 2, bytes[0] == 0x16, bytes[1] == 0x03, acceptsRequests else { return false }
        shared.tlsHandshakeLog.note(from: remoteAddress, logger: shared.configuration.logger)
        failRequest(Self.tlsHandshakeRefusal)
        return true
    }
}

// MARK: - Logging them, now and then

/// Logs TLS handshakes on a plain HTTP port at most once per ``interval``, counting those held
/// back, so a client retrying in a loop cannot flood the log.
final class HTTPTLSHandshakeLog: Sendable {
    static let interval: Duration = .seconds(10)
    private let throttle = Mutex(RateLimitedLog(interval: HTTPTLSHandshakeLog.interval))

    func note(from peer: SocketAddress?, logger: Logger?) {
        guard let logger, logger.isEnabled(.info) else { return }
        let now = Duration.nanoseconds(Int64(clamping: MonotonicClock.nowNanoseconds()))
        let (log, heldBack) = throttle.withLock { $0.shouldLog(at: now) }
        guard log else { return }
        let client = peer?.description ?? "a client"
        logger.info("\(client) sent a TLS handshake on a plain HTTP port (an https:// URL for an http:// server?); answered 400 and closed"
            + (heldBack > 0 ? " (\(heldBack) more since the last report)" : ""))
    }
}
