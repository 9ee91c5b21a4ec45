import COpenSSL
import DiscoCore
import Synchronization

// MARK: - OpenSSL callbacks

/// The C callbacks a ``TLSContext`` installs. Each finds its connection through the SSL
/// object's application data (index 0), which ``TLSTransport`` sets to itself for its lifetime;
/// they run on that connection's loop thread, inside an `SSL_*` call the transport made.
enum TLSCallbacks {
    /// Certificate verification: records why the peer's chain (or name) was refused, with the
    /// certificate's subject and issuer, so the failure can be logged and reported.
    static let verify: @convention(c) (Int32, OpaquePointer?) -> Int32 = { preverified, store in
        guard preverified == 0, let store else { return preverified }
        let ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx())
        let code = X509_STORE_CTX_get_error(store)
        let certificate = X509_STORE_CTX_get_current_cert(store)
        let reason = String(cString: X509_verify_cert_error_string(Int(code)))
        let failure = TLSVerifyFailure(reason: reason, code: code, depth: X509_STORE_CTX_get_error_depth(store),
                                       subject: X509Text.subject(certificate), issuer: X509Text.issuer(certificate))
        if let ssl, let transport = TLSTransport.owning(OpaquePointer(ssl)) { transport.recordVerifyFailure(failure) }
        return 0
    }

    /// Server ALPN: the first of our protocols the client also offers. A client that offers
    /// protocols but none of ours (`h2` alone) is refused with `no_application_protocol`, as
    /// RFC 7301 says and nginx and Go do: it would speak a protocol this side does not. A client
    /// that sends no ALPN is not asked (this callback does not run) and connects.
    static let selectALPN: @convention(c) (
        OpaquePointer?, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<UInt8>?,
        UnsafePointer<UInt8>?, UInt32, UnsafeMutableRawPointer?
    ) -> Int32 = { ssl, out, outLength, offered, offeredLength, _ in
        guard let ssl, let out, let outLength, let offered, let transport = TLSTransport.owning(ssl) else {
            return SSL_TLSEXT_ERR_NOACK
        }
        let ours = transport.context.alpnWire
        var chosen: UnsafeMutablePointer<UInt8>?
        var chosenLength: UInt8 = 0
        let result = ours.withUnsafeBufferPointer { wire in
            SSL_select_next_proto(&chosen, &chosenLength, wire.baseAddress, UInt32(wire.count), offered, offeredLength)
        }
        // SSL_select_next_proto points into one of the two lists; only a pointer into the
        // client's (which lives through the handshake) may be returned. Find our choice there.
        guard result == OPENSSL_NPN_NEGOTIATED, let chosen else {
            transport.alpnRefusal = protocolNames(UnsafeBufferPointer(start: offered, count: Int(offeredLength)))
            return SSL_TLSEXT_ERR_ALERT_FATAL
        }
        let wanted = Array(UnsafeBufferPointer(start: chosen, count: Int(chosenLength)))
        var index = 0
        while index < Int(offeredLength) {
            let length = Int(offered[index])
            let start = index + 1
            if start + length <= Int(offeredLength), Array(UnsafeBufferPointer(start: offered + start, count: length)) == wanted {
                out.pointee = UnsafePointer(offered + start)
                outLength.pointee = UInt8(length)
                return SSL_TLSEXT_ERR_OK
            }
            index = start + length
        }
        return SSL_TLSEXT_ERR_NOACK
    }

    /// The names in an ALPN list (length-prefixed), for log lines.
    static func protocolNames(_ wire: UnsafeBufferPointer<UInt8>) -> [String] {
        var names: [String] = []
        var index = 0
        while index < wire.count {
            let end = index + 1 + Int(wire[index])
            guard end <= wire.count else { break }
            names.append(String(decoding: wire[(index + 1)..<end], as: UTF8.self))
            index = end
        }
        return names
    }

    /// Client: a new session (TLS 1.2 at the handshake, TLS 1.3 when a ticket arrives) is kept
    /// for the next connection to the same server. Returning 1 keeps OpenSSL's reference.
    static let newClientSession: @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32 = { ssl, session in
        guard let ssl, let session, let transport = TLSTransport.owning(ssl), let cache = transport.context.sessions,
              let key = transport.sessionKey
        else { return 0 }
        cache.store(TLSSession(session), for: key)
        return 1
    }
}

/// Why a certificate was refused during verification.
struct TLSVerifyFailure: Sendable {
    let reason: String
    let code: Int32
    let depth: Int32
    let subject: String
    let issuer: String
}

// MARK: - Client sessions

/// One resumable session (an `SSL_SESSION` reference, freed with the object).
final class TLSSession: @unchecked Sendable {
    // @unchecked Sendable: an SSL_SESSION is reference-counted and not modified once a handshake
    // has produced it; OpenSSL allows handing one to SSL_set_session on any thread.
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { SSL_SESSION_free(pointer) }

    /// Whether the session can still be offered (not expired, resumable).
    var isResumable: Bool { SSL_SESSION_is_resumable(pointer) == 1 }
}

/// The newest session per server (`name|address`), bounded; used by client contexts.
final class TLSClientSessionCache: Sendable {
    static let capacity = 1024
    private let sessions = Mutex<[String: TLSSession]>([:])

    func store(_ session: TLSSession, for key: String) {
        sessions.withLock { sessions in
            if sessions.count >= Self.capacity, sessions[key] == nil, let victim = sessions.keys.first {
                sessions[victim] = nil
            }
            sessions[key] = session
        }
    }

    func session(for key: String) -> TLSSession? {
        sessions.withLock { $0[key] }
    }

    /// Drops the session of a server whose handshake failed (it may have changed its keys).
    func remove(_ key: String) {
        _ = sessions.withLock { $0.removeValue(forKey: key) }
    }

    var count: Int { sessions.withLock { $0.count } }
}

// MARK: - Rate-limited failure log

/// Logs handshake failures and plaintext on the TLS port, at most `perSecond` lines a second;
/// the lines held back are counted in the next one, so a scanner cannot flood the log.
final class TLSFailureLog: Sendable {
    let logger: Logger?
    private let window = Mutex<(start: UInt64, lines: Int, suppressed: Int)>((0, 0, 0))
    static let perSecond = 20

    init(logger: Logger?) { self.logger = logger }

    func log(_ level: Logger.Level, _ message: String) {
        guard let logger, logger.isEnabled(level) else { return }
        let now = MonotonicClock.nowNanoseconds()
        let suppressed: Int? = window.withLock { state in
            if now &- state.start >= 1_000_000_000 {
                let held = state.suppressed
                state = (now, 1, 0)
                return held
            }
            guard state.lines < Self.perSecond else {
                state.suppressed += 1
                return nil
            }
            state.lines += 1
            return 0
        }
        guard let suppressed else { return }
        logger.log(level: level, suppressed > 0 ? "\(message) (\(suppressed) similar lines held back in the last second)" : message)
    }
}
