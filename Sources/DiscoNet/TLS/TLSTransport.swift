#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import COpenSSL

// MARK: - TLS over a TCP transport

/// A ``ByteStreamTransport`` that runs TLS (OpenSSL, non-blocking) over a ``TCPTransport``:
/// `SSL_read` and `SSL_write` work directly on the socket descriptor, and what OpenSSL waits for
/// (`SSL_ERROR_WANT_READ`/`WANT_WRITE`) becomes the TCP stream's interest. No thread per
/// connection: everything runs on the TCP stream's loop.
///
/// The handshake runs before the first byte, bounded by the configuration's handshake timeout;
/// until it finishes `read` and `write` answer `.wouldBlock`, and the handler is told when they
/// can progress. A server first peeks at the first bytes: plain HTTP is answered with a 400 in
/// plain text (as nginx does) and other non-TLS bytes close the connection, instead of leaving
/// the peer waiting. Decrypted bytes that OpenSSL holds but the socket no longer signals are
/// reported as `.readable` by the transport itself.
final class TLSTransport: ByteStreamTransport, ByteStreamTransportHandler, @unchecked Sendable {
    // @unchecked Sendable: loop-confined like the TCPTransport it wraps. Every member except
    // `init` (run on the loop by the factory) and the immutable lets is used on `loop`'s thread
    // only; OpenSSL's callbacks reach it from inside SSL calls made on that thread.

    enum Phase {
        /// Server: waiting for the first bytes to tell TLS from plaintext.
        case sniffing
        case handshaking
        case open
        /// Server: plaintext HTTP was answered with a 400; reading what is left until the peer closes.
        case refusingPlaintext
        case failed
        case closed
    }

    let tcp: TCPTransport
    let context: TLSContext
    let ssl: OpaquePointer
    let isServer: Bool
    /// Client: the name verified and sent as SNI.
    let serverName: String?
    /// Client: where resumable sessions for this server are kept.
    let sessionKey: String?
    let peer: String

    var phase: Phase
    var failure: NetworkError?
    var verifyFailure: TLSVerifyFailure?
    /// Server: the ALPN protocols a client offered when none of them is ours (the handshake fails).
    var alpnRefusal: [String]?
    var handler: (any ByteStreamTransportHandler)?
    var interest: TransportInterest = []
    /// What the socket must become for a blocked `SSL_read` / `SSL_write` / handshake to progress.
    var readBlockedOn: TransportInterest = .read
    var writeBlockedOn: TransportInterest = .write
    var handshakeBlockedOn: TransportInterest = .read
    var tcpInterest: TransportInterest?
    var timer: TimerID?
    /// What the handshake timer calls; cleared once the handshake is over or the transport closed.
    lazy var timerTarget = TimerTarget(self)
    var establishedWaiters: [(NetworkError?) -> Void] = []
    private var readableReportPending = false
    private var closeNotifySent = false
    /// Set after a fatal SSL error: OpenSSL forbids SSL_shutdown then.
    var sslBroken = false

    init(tcp: TCPTransport, context: TLSContext, role: TransportRole) throws(TLSError) {
        self.tcp = tcp
        self.context = context
        self.isServer = role.serverName == nil
        self.peer = tcp.remoteAddress?.description ?? "unknown peer"
        OpenSSLErrors.clear()
        guard let ssl = SSL_new(context.pointer) else {
            throw TLSError(.badConfiguration, detail: "cannot create a TLS connection: \(OpenSSLErrors.drain())")
        }
        self.ssl = ssl
        guard SSL_set_fd(ssl, tcp.descriptor) == 1 else {
            SSL_free(ssl)
            throw TLSError(.badConfiguration, detail: "cannot attach TLS to the socket: \(OpenSSLErrors.drain())")
        }
        if isServer {
            serverName = nil
            sessionKey = nil
            phase = .sniffing
        } else {
            let name = context.configuration.serverName ?? role.serverName ?? ""
            serverName = name
            sessionKey = "\(name)|\(peer)"
            phase = .handshaking
        }
        _ = SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        if isServer {
            SSL_set_accept_state(ssl)
        } else {
            try configureClient()
        }
    }

    deinit {
        if phase != .closed { SSL_free(ssl) }
    }

    /// The transport that owns `ssl` (from inside an OpenSSL callback on its loop).
    static func owning(_ ssl: OpaquePointer) -> TLSTransport? {
        guard let raw = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<TLSTransport>.fromOpaque(raw).takeUnretainedValue()
    }

    /// Client: SNI and name or IP verification, and a cached session to resume.
    private func configureClient() throws(TLSError) {
        SSL_set_connect_state(ssl)
        let name = serverName ?? ""
        let isIPLiteral = SocketAddress(numericHost: name, port: 0) != nil
        if !name.isEmpty && !isIPLiteral {
            _ = disco_SSL_set_tlsext_host_name(ssl, name)
        }
        if context.configuration.verifyPeer && !name.isEmpty {
            let accepted = isIPLiteral
                ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
                : SSL_set1_host(ssl, name)
            guard accepted == 1 else {
                throw TLSError(.badConfiguration, detail: "cannot verify the server name \(name.debugDescription): \(OpenSSLErrors.drain())")
            }
        }
        if let cache = context.sessions, let key = sessionKey, let session = cache.session(for: key) {
            if session.isResumable { _ = SSL_set_session(ssl, session.pointer) } else { cache.remove(key) }
        }
    }

    /// Starts the handshake machinery (called by the factory once the transport is built).
    func start() {
        // OpenSSL reads and writes the descriptor itself, past the TCP transport's readiness flags.
        tcp.useLevelTriggered()
        tcp.setHandler(self)
        let target = timerTarget
        // The turn's clock, as the HTTP server's header deadline (armed next): a stalled handshake times out first.
        let due = loop.turnNanoseconds &+ MonotonicClock.nanoseconds(context.configuration.handshakeTimeout)
        timer = loop.scheduleTimer(at: due) { target.target?.handshakeTimedOut() }
        // A server waits for the client's first bytes; a client writes its hello when the
        // (connected) socket reports writable.
        handshakeBlockedOn = isServer ? .read : .write
        updateTCPInterest()
    }

    // MARK: ByteStreamTransport

    var loop: EventLoop { tcp.loop }
    var localAddress: SocketAddress? { tcp.localAddress }
    var remoteAddress: SocketAddress? { tcp.remoteAddress }
    var isClosed: Bool { phase == .closed }

    func setHandler(_ handler: (any ByteStreamTransportHandler)?) {
        assert(loop.inLoop)
        self.handler = phase == .closed ? nil : handler
    }

    func setInterest(_ interest: TransportInterest) {
        assert(loop.inLoop)
        self.interest = interest
        switch phase {
        case .open:
            updateTCPInterest()
            if interest.contains(.read) && hasBufferedInput { reportReadableSoon() }
        case .failed:
            // The handler learns of the failure as soon as it asks for anything.
            if !interest.isEmpty { reportSoon([.hangUp, .readable, .writable]) }
        default:
            updateTCPInterest()
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> TransportReadResult {
        switch phase {
        case .open: break
        case .failed, .closed: return .failed(currentFailure)
        case .sniffing, .handshaking, .refusingPlaintext: return .wouldBlock
        }
        guard buffer.count > 0 else { return .wouldBlock }
        OpenSSLErrors.clear()
        let count = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        if count > 0 {
            if readBlockedOn != .read {
                readBlockedOn = .read
                updateTCPInterest()
            }
            if hasBufferedInput { reportReadableSoon() }
            return .read(Int(count))
        }
        switch SSL_get_error(ssl, count) {
        case SSL_ERROR_WANT_READ:
            readBlockedOn = .read
            updateTCPInterest()
            return .wouldBlock
        case SSL_ERROR_WANT_WRITE:
            readBlockedOn = .write
            updateTCPInterest()
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .endOfStream
        default:
            return .failed(ioFailure("read"))
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> TransportWriteResult {
        switch phase {
        case .open: break
        case .failed, .closed: return .failed(currentFailure)
        case .sniffing, .handshaking, .refusingPlaintext: return .wouldBlock
        }
        guard bytes.count > 0 else { return .wrote(0) }
        OpenSSLErrors.clear()
        let count = SSL_write(ssl, bytes.baseAddress, Int32(clamping: bytes.count))
        if count > 0 {
            if writeBlockedOn != .write {
                writeBlockedOn = .write
                updateTCPInterest()
            }
            return .wrote(Int(count))
        }
        switch SSL_get_error(ssl, count) {
        case SSL_ERROR_WANT_WRITE:
            writeBlockedOn = .write
            updateTCPInterest()
            return .wouldBlock
        case SSL_ERROR_WANT_READ:
            writeBlockedOn = .read
            updateTCPInterest()
            return .wouldBlock
        default:
            let failure = ioFailure("write")
            // A peer that refused us (an alert, then a reset) explains itself in what it sent.
            if failure.code == .connectionReset, readAlertBeforeHangUp(notify: false) { return .failed(currentFailure) }
            return .failed(failure)
        }
    }

    func shutdownWrite() {
        guard phase != .closed else { return }
        sendCloseNotify()
        tcp.shutdownWrite()
    }

    func peerHasClosed() -> Bool {
        switch phase {
        case .closed, .failed: return true
        case .sniffing, .handshaking, .refusingPlaintext: return tcp.peerHasClosed()
        case .open: break
        }
        // Let OpenSSL look at whatever arrived: tickets are absorbed, a close_notify or the end
        // of the stream means closed, and so do application bytes nobody asked for (an idle
        // connection holding them is out of step).
        var byte: UInt8 = 0
        OpenSSLErrors.clear()
        let count = SSL_peek(ssl, &byte, 1)
        if count > 0 { return true }
        let code = SSL_get_error(ssl, count)
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return false
        default:
            // A close_notify is an orderly end; anything else (a FIN without one, a reset, a bad
            // record) is fatal, and a later close must not send close_notify.
            noteFatal(code)
            OpenSSLErrors.clear()
            return true
        }
    }

    func close() { close(notifying: true) }

    /// Closes without close_notify, and resets the TCP stream (see ``ByteStreamTransport/abort()``).
    func abort() {
        guard phase != .closed else { return }
        if !tcp.isClosed { tcp.socket.setResetOnClose() }
        close(notifying: false)
    }

    private func close(notifying: Bool) {
        guard phase != .closed else { return }
        if notifying && phase == .open { sendCloseNotify() }
        phase = .closed
        handler = nil
        if let timer { loop.cancelTimer(timer) }
        timer = nil
        timerTarget.target = nil
        _ = SSL_set_ex_data(ssl, 0, nil)
        SSL_free(ssl)
        tcp.close()
        finishWaiters(NetworkError(.connectionClosed, peer: peer, detail: "closed before the TLS handshake finished"))
    }

    // MARK: Readiness from TCP

    func transportReady(_ events: TransportEvents) {
        switch phase {
        case .closed:
            return
        case .failed:
            handler?.transportReady([.hangUp, .readable, .writable])
        case .sniffing:
            sniff()
        case .handshaking:
            advanceHandshake()
        case .refusingPlaintext:
            drainPlaintext()
        case .open:
            var ready: TransportEvents = []
            if events.contains(.hangUp) {
                if readAlertBeforeHangUp(notify: true) { return }
                ready = [.hangUp]
                if interest.contains(.read) { ready.insert(.readable) }
                if interest.contains(.write) { ready.insert(.writable) }
            }
            if events.contains(.readable) {
                if interest.contains(.read) && readBlockedOn == .read { ready.insert(.readable) }
                if interest.contains(.write) && writeBlockedOn == .read { ready.insert(.writable) }
            }
            if events.contains(.writable) {
                if interest.contains(.write) && writeBlockedOn == .write { ready.insert(.writable) }
                if interest.contains(.read) && readBlockedOn == .write { ready.insert(.readable) }
            }
            if !ready.isEmpty { handler?.transportReady(ready) }
        }
    }

    /// Maps the user's interest (and what OpenSSL waits for) onto the TCP stream's interest.
    func updateTCPInterest() {
        var wanted: TransportInterest = []
        switch phase {
        case .closed: return
        case .failed: wanted = []
        case .sniffing, .refusingPlaintext: wanted = .read
        case .handshaking: wanted = handshakeBlockedOn
        case .open:
            if interest.contains(.read) { wanted.formUnion(readBlockedOn) }
            if interest.contains(.write) { wanted.formUnion(writeBlockedOn) }
        }
        if wanted != tcpInterest {
            tcpInterest = wanted
            tcp.setInterest(wanted)
        }
    }

    // MARK: Buffered input

    /// Decrypted bytes or unprocessed records OpenSSL holds (the socket no longer signals them).
    private var hasBufferedInput: Bool { SSL_pending(ssl) > 0 || SSL_has_pending(ssl) == 1 }

    private func reportReadableSoon() {
        guard !readableReportPending else { return }
        readableReportPending = true
        loop.executeLocal { [self] in
            readableReportPending = false
            guard phase == .open, interest.contains(.read), hasBufferedInput else { return }
            handler?.transportReady(.readable)
        }
    }

    /// Reports `events` on a later turn (never from inside a call the handler made).
    func reportSoon(_ events: TransportEvents) {
        loop.executeLocal { [self] in
            guard phase != .closed else { return }
            handler?.transportReady(events)
        }
    }

    private func sendCloseNotify() {
        guard phase == .open, !closeNotifySent, !sslBroken else { return }
        closeNotifySent = true
        OpenSSLErrors.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrors.clear()
    }

    // MARK: Failures

    var currentFailure: NetworkError {
        failure ?? NetworkError(.connectionClosed, peer: peer, detail: "TLS connection closed")
    }

    /// A failed `SSL_read`/`SSL_write`: the reason from OpenSSL or errno. The connection is
    /// unusable afterwards (no close_notify may be sent).
    private func ioFailure(_ operation: String) -> NetworkError {
        sslBroken = true
        let code = errno
        let reasons = OpenSSLErrors.drain()
        if reasons.isEmpty {
            let reset = code == ECONNRESET || code == EPIPE
            let detail = code == 0 ? "TLS \(operation): the connection ended" : "TLS \(operation): \(String(cString: strerror(code)))"
            return NetworkError(reset ? .connectionReset : .ioFailed, peer: peer, detail: detail)
        }
        if reasons.contains("certificate required") {
            // A TLS 1.3 server refuses a missing client certificate after the client's handshake
            // has finished, so the client learns it here, on its first read or write.
            return NetworkError(.ioFailed, peer: peer, detail: "TLS \(operation) failed: the \(isServer ? "client" : "server") "
                + "requires a certificate this side did not present (\(reasons))")
        }
        return NetworkError(.ioFailed, peer: peer, detail: "TLS \(operation) failed: \(reasons)")
    }

    func recordVerifyFailure(_ failure: TLSVerifyFailure) {
        if verifyFailure == nil { verifyFailure = failure }
    }

    func finishWaiters(_ error: NetworkError?) {
        guard !establishedWaiters.isEmpty else { return }
        let waiters = establishedWaiters
        establishedWaiters.removeAll()
        for waiter in waiters { waiter(error) }
    }
}
