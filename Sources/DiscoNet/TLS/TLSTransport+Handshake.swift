#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import CDiscoEpoll
import COpenSSL
import DiscoCore

// MARK: - Handshake

extension TLSTransport {
    /// The answer to plain HTTP on a TLS port (nginx answers the same way).
    static let plaintextAnswer: [UInt8] = {
        let body = "400 Bad Request: the plain HTTP request was sent to an HTTPS port; use https:// (this port speaks TLS)\n"
        return Array(("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body).utf8)
    }()

    /// Calls `done` once the handshake has finished (nil) or failed (the reason), on the loop.
    func whenEstablished(_ done: @escaping (NetworkError?) -> Void) {
        switch phase {
        case .open: done(nil)
        case .failed, .closed: done(currentFailure)
        case .sniffing, .handshaking, .refusingPlaintext: establishedWaiters.append(done)
        }
    }

    /// Server: looks at the first bytes without consuming them. A TLS record starts with 0x16
    /// (handshake); an upper-case letter is plain HTTP; anything else is not ours.
    func sniff() {
        var first = [UInt8](repeating: 0, count: 4)
        let count = first.withUnsafeMutableBytes { recv(tcp.descriptor, $0.baseAddress, $0.count, Int32(MSG_PEEK | MSG_DONTWAIT)) }
        if count < 0 {
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { return }
            fail(NetworkError(.connectionReset, peer: peer, detail: "before the TLS handshake: \(String(cString: strerror(code)))"), log: nil)
            return
        }
        if count == 0 {
            fail(NetworkError(.connectionClosed, peer: peer, detail: "closed before the TLS handshake"), log: nil)
            return
        }
        switch first[0] {
        case 0x16:
            phase = .handshaking
            advanceHandshake()
        case UInt8(ascii: "A")...UInt8(ascii: "Z"):
            refusePlaintext()
        default:
            let shown = first[0..<count].map { String($0, radix: 16) }.joined(separator: " ")
            fail(NetworkError(.ioFailed, peer: peer, detail: "not TLS: the first bytes were \(shown) (hex); closed"),
                 log: (.warning, "\(context.configuration.label): \(peer) sent bytes that are not TLS (first bytes \(shown) hex); "
                    + "is it configured without TLS? Connection closed"))
        }
    }

    func advanceHandshake() {
        OpenSSLErrors.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            handshakeFinished()
            return
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ:
            handshakeBlockedOn = .read
            updateTCPInterest()
        case SSL_ERROR_WANT_WRITE:
            handshakeBlockedOn = .write
            updateTCPInterest()
        default:
            sslBroken = true
            handshakeFailed(errnoCode: errno, reasons: OpenSSLErrors.drain())
        }
    }

    private func handshakeFinished() {
        phase = .open
        context.countHandshake(resumed: SSL_session_reused(ssl) == 1)
        if let timer { loop.cancelTimer(timer) }
        timer = nil
        // No timer is armed after the handshake: the cancelled one, still queued, lets go.
        timerTarget.target = nil
        verifyFailure = nil
        updateTCPInterest()
        finishWaiters(nil)
        var ready: TransportEvents = []
        if interest.contains(.read) { ready.insert(.readable) }
        if interest.contains(.write) { ready.insert(.writable) }
        if !ready.isEmpty { handler?.transportReady(ready) }
    }

    func handshakeTimedOut() {
        timer = nil
        switch phase {
        case .sniffing, .handshaking:
            let limit = context.configuration.handshakeTimeout
            let what = phase == .sniffing ? "sent nothing" : "did not finish the TLS handshake"
            fail(NetworkError(.ioFailed, peer: peer, detail: "TLS handshake timed out: the peer \(what) within \(limit)"),
                 log: isServer ? (.info, "\(context.configuration.label): TLS handshake from \(peer) timed out: the client \(what) within \(limit); closed") : nil)
        case .refusingPlaintext:
            finishPlaintextRefusal()
        default:
            break
        }
    }

    /// Names what went wrong: the verification failure with the certificate's subject and
    /// issuer and what this side trusts, an alert from the peer, or a socket error.
    private func handshakeFailed(errnoCode: Int32, reasons: String) {
        var detail: String
        if let verify = verifyFailure {
            detail = "the \(isServer ? "client" : "server") certificate was refused: \(verify.reason) "
                + "(certificate subject \"\(verify.subject)\", issued by \"\(verify.issuer)\"; this side trusts \(context.trustDescription))"
            if verify.code == X509_V_ERR_INVALID_PURPOSE {
                // A certificate that names extended key usages is refused for any it leaves out.
                let usage = isServer ? "clientAuth" : "serverAuth"
                detail += "; its extended key usage lacks \(usage): issue it with extendedKeyUsage=\(usage) (or serverAuth,clientAuth for both sides)"
            }
            if verify.code == X509_V_ERR_HOSTNAME_MISMATCH || verify.code == X509_V_ERR_IP_ADDRESS_MISMATCH {
                detail = "the server certificate (subject \"\(verify.subject)\") is not valid for \(serverName ?? "the host asked for"): \(verify.reason)"
            }
        } else if let offered = alpnRefusal {
            detail = "the client offered only \(offered.joined(separator: ", ")) by ALPN; this side speaks "
                + "\(context.configuration.applicationProtocols.joined(separator: ", ")) (\(reasons.isEmpty ? "no application protocol" : reasons))"
        } else if reasons.contains("peer did not return a certificate") || reasons.contains("certificate required") {
            detail = isServer
                ? "the client sent no certificate; this side requires one signed by \(context.trustDescription)"
                : "the server requires a client certificate and none was configured (\(reasons))"
        } else if reasons.contains("unexpected eof") {
            // A hang-up with no alert: a TLS peer refusing would have said why. A client's hello
            // read by a plain server (a node without TLS) ends this way.
            detail = isServer
                ? "the client closed the connection during the TLS handshake (\(reasons))"
                : "the server closed the connection during the TLS handshake without a TLS alert: does it speak TLS on this port? "
                    + "(it may be configured without TLS) (\(reasons))"
        } else if !reasons.isEmpty {
            detail = alertDescription(reasons)
        } else if errnoCode != 0 {
            detail = String(cString: strerror(errnoCode))
        } else {
            detail = "the peer closed the connection during the handshake"
        }
        if let cache = context.sessions, let key = sessionKey { cache.remove(key) }
        let error = NetworkError(.ioFailed, peer: peer, detail: "TLS handshake failed: \(detail)")
        let label = context.configuration.label
        fail(error, log: isServer ? (.warning, "\(label): TLS handshake from \(peer) refused: \(detail)")
                                  : (.info, "\(label): TLS handshake with \(peer) failed: \(detail)"))
    }

    /// OpenSSL's alert reasons in words a person acts on.
    func alertDescription(_ reasons: String) -> String {
        let side = isServer ? "client" : "server"
        if reasons.contains("alert unknown ca") || reasons.contains("alert bad certificate")
            || reasons.contains("alert certificate unknown") || reasons.contains("alert certificate expired")
            || reasons.contains("alert certificate revoked") || reasons.contains("alert unsupported certificate") {
            return "the \(side) refused this side's certificate (\(reasons))"
        }
        if reasons.contains("wrong version number") || reasons.contains("packet length too long") || reasons.contains("record layer failure") {
            return "the \(side) does not speak TLS on this port (\(reasons))"
        }
        if reasons.contains("no shared cipher") || reasons.contains("no protocols available") || reasons.contains("unsupported protocol") {
            return "no TLS version or cipher in common with the \(side) (\(reasons))"
        }
        return reasons
    }

    /// Marks the connection failed, logs (rate-limited) and tells the waiters and (with
    /// `notify`) the handler.
    func fail(_ error: NetworkError, log: (Logger.Level, String)?, notify: Bool = true) {
        guard phase != .closed, phase != .failed else { return }
        phase = .failed
        failure = error
        if log != nil { context.countFailure() }
        if let timer { loop.cancelTimer(timer) }
        timer = nil
        timerTarget.target = nil
        if let (level, message) = log { context.failureLog.log(level, message) }
        updateTCPInterest()
        finishWaiters(error)
        if notify { handler?.transportReady([.hangUp, .readable, .writable]) }
    }

    /// Marks the connection broken when `code` (from `SSL_get_error`) is a fatal error:
    /// OpenSSL forbids `SSL_shutdown` after `SSL_ERROR_SYSCALL` or `SSL_ERROR_SSL`. Only the
    /// codes that leave the connection usable (waiting, or a received close_notify) do not.
    func noteFatal(_ code: Int32) {
        switch code {
        case SSL_ERROR_NONE, SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE, SSL_ERROR_ZERO_RETURN: break
        default: sslBroken = true
        }
    }

    /// The peer hung up: if it sent an alert first (TLS 1.3 servers refuse a client certificate
    /// only after the client has finished its handshake), the connection fails with that reason
    /// rather than a bare reset. True when it did. `notify` tells the handler (not when called
    /// from inside one of its own calls, which reports the failure as its result).
    func readAlertBeforeHangUp(notify: Bool) -> Bool {
        guard phase == .open else { return false }
        var byte: UInt8 = 0
        OpenSSLErrors.clear()
        let count = SSL_peek(ssl, &byte, 1)
        guard count <= 0 else { return false }
        let code = SSL_get_error(ssl, count)
        noteFatal(code)
        switch code {
        case SSL_ERROR_SSL:
            let reasons = OpenSSLErrors.drain()
            guard !reasons.isEmpty else { return false }
            let detail = reasons.contains("certificate required")
                ? "the \(isServer ? "client" : "server") requires a certificate this side did not present (\(reasons))"
                : alertDescription(reasons)
            fail(NetworkError(.connectionReset, peer: peer, detail: "TLS: \(detail)"), log: nil, notify: notify)
            return true
        default:
            OpenSSLErrors.clear()
            return false
        }
    }

    // MARK: Plaintext on the TLS port

    /// Reads what the client sent, answers 400 in plain text and finishes sending; the peer
    /// then reads the answer and closes (or a short deadline ends it).
    private func refusePlaintext() {
        phase = .refusingPlaintext
        if let timer { loop.cancelTimer(timer) }
        discardAvailableInput()
        _ = Self.plaintextAnswer.withUnsafeBytes { tcp.write($0) }
        tcp.shutdownWrite()
        context.countFailure()
        context.failureLog.log(.info, "\(context.configuration.label): \(peer) sent plain HTTP to the TLS port; answered 400")
        let target = timerTarget
        timer = loop.scheduleTimer(after: .seconds(2)) { target.target?.handshakeTimedOut() }
        updateTCPInterest()
    }

    func drainPlaintext() {
        if discardAvailableInput() { finishPlaintextRefusal() }
    }

    /// Reads and drops what is readable now. True once the peer has closed (or failed).
    @discardableResult
    private func discardAvailableInput() -> Bool {
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 {
            switch scratch.withUnsafeMutableBytes({ tcp.read(into: $0) }) {
            case .read: continue
            case .wouldBlock: return false
            case .endOfStream, .failed: return true
            }
        }
        return false
    }

    private func finishPlaintextRefusal() {
        fail(NetworkError(.ioFailed, peer: peer, detail: "plain HTTP was sent to the TLS port (answered 400)"), log: nil)
    }
}
