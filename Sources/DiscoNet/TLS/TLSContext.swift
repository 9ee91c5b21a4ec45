import COpenSSL
import DiscoCore
import Synchronization

// MARK: - A loaded TLS context

/// An OpenSSL `SSL_CTX` built from a ``TLSConfiguration``: certificates and keys loaded and
/// checked, trust roots installed, versions, ciphers, ALPN and session resumption set.
/// Connections are created from it by a ``TLSTransportFactory``; a reload builds a new context
/// while connections made from the old one keep it (they hold a reference) until they close.
public final class TLSContext: @unchecked Sendable {
    // @unchecked Sendable: `pointer` is configured completely in `init` and never changed after
    // (OpenSSL documents an SSL_CTX as shareable across threads for SSL_new once configured; its
    // session cache and ticket keys are locked internally). The other members are immutable
    // values or Sendable classes.

    let pointer: OpaquePointer
    /// The settings this context was built from.
    public let configuration: TLSConfiguration
    /// True for a server context (accepts), false for a client context (connects).
    public let isServer: Bool
    /// Subject of the certificate this side presents, if any (`CN=node1,O=Disco`).
    public let certificateSubject: String?
    /// When that certificate expires (`Jan  2 03:04:05 2027 GMT`).
    public let certificateNotAfter: String?
    /// When that certificate becomes valid (`Jan  2 03:04:05 2026 GMT`).
    public let certificateNotBefore: String?
    /// Subjects of the CAs trusted for the peer's certificate (empty for the system bundle), each
    /// once however often the bundle holds it.
    public let trustedAuthorities: [String]
    /// ALPN protocols in wire format (length-prefixed), what a server selects from.
    let alpnWire: [UInt8]
    /// Sessions kept per server (client contexts with resumption on).
    let sessions: TLSClientSessionCache?
    let failureLog: TLSFailureLog
    /// Handshake outcomes, shared by every context one ``TLSContextStore`` builds (counts go on
    /// across reloads).
    let counters: TLSHandshakeCounters
    /// When this side's certificate expires, in seconds since the Unix epoch.
    public let certificateExpiry: Int64?
    /// When this side's certificate becomes valid, in seconds since the Unix epoch.
    public let certificateValidFrom: Int64?

    /// Handshakes finished with connections made from this context (and earlier ones of its store).
    public var handshakesCompleted: Int { counters.completed.load(ordering: .relaxed) }
    /// Of those, how many resumed an earlier session (no certificate exchange).
    public var sessionsResumed: Int { counters.resumed.load(ordering: .relaxed) }
    /// Handshakes that failed (refused certificates, timeouts, plaintext, protocol errors).
    public var handshakesFailed: Int { counters.failed.load(ordering: .relaxed) }

    func countHandshake(resumed: Bool) {
        counters.completed.add(1, ordering: .relaxed)
        if resumed { counters.resumed.add(1, ordering: .relaxed) }
    }

    func countFailure() { counters.failed.add(1, ordering: .relaxed) }

    /// Builds a server context: certificate chain and key required.
    public convenience init(server configuration: TLSConfiguration) throws(TLSError) {
        try self.init(configuration, isServer: true, counters: TLSHandshakeCounters())
    }

    /// Builds a client context.
    public convenience init(client configuration: TLSConfiguration) throws(TLSError) {
        try self.init(configuration, isServer: false, counters: TLSHandshakeCounters())
    }

    init(_ configuration: TLSConfiguration, isServer: Bool, counters: TLSHandshakeCounters) throws(TLSError) {
        _ = ignoreSIGPIPEOnce  // OpenSSL writes to sockets with write(2), which raises SIGPIPE.
        _ = initializeOpenSSLOnce
        OpenSSLErrors.clear()
        guard let context = SSL_CTX_new(isServer ? TLS_server_method() : TLS_client_method()) else {
            throw TLSError(.badConfiguration, detail: "cannot create an OpenSSL context: \(OpenSSLErrors.drain())")
        }
        var built = false
        defer { if !built { SSL_CTX_free(context) } }

        try Self.configureProtocol(context, configuration, isServer: isServer)
        if isServer {
            guard configuration.certificateChain != nil, configuration.privateKey != nil else {
                throw TLSError(.badConfiguration, detail: "a TLS server needs a certificate and a private key")
            }
        }
        var subject: String?
        var validity: CertificateValidity?
        if let chain = configuration.certificateChain {
            guard let key = configuration.privateKey else {
                throw TLSError(.badConfiguration, source: chain.description, detail: "a certificate needs its private key as well")
            }
            (subject, validity) = try Self.installCredentials(context, chain: chain, key: key)
        } else if let key = configuration.privateKey {
            throw TLSError(.badConfiguration, source: key.description, detail: "a private key needs its certificate as well")
        }
        let (authorities, trustDigest) = try TLSError.concerning(.trustRoots) { () throws(TLSError) in
            try Self.installTrust(context, configuration, isServer: isServer)
        }

        var wire: [UInt8] = []
        for name in configuration.applicationProtocols {
            let bytes = Array(name.utf8)
            guard !bytes.isEmpty, bytes.count <= 255 else {
                throw TLSError(.badConfiguration, detail: "ALPN protocol \(name.debugDescription) must be 1 to 255 bytes")
            }
            wire.append(UInt8(bytes.count))
            wire.append(contentsOf: bytes)
        }

        self.pointer = context
        self.configuration = configuration
        self.isServer = isServer
        self.certificateSubject = subject
        self.certificateNotAfter = validity?.notAfter
        self.certificateExpiry = validity?.notAfterSeconds
        self.certificateNotBefore = validity?.notBefore
        self.certificateValidFrom = validity?.notBeforeSeconds
        self.counters = counters
        self.trustedAuthorities = authorities
        self.alpnWire = wire
        self.sessions = !isServer && configuration.sessionResumption ? TLSClientSessionCache() : nil
        self.failureLog = TLSFailureLog(logger: configuration.logger)
        built = true

        if isServer {
            Self.configureServerSessions(context, resumption: configuration.sessionResumption,
                                         trustDigest: configuration.verifyPeer ? trustDigest : [])
            if !wire.isEmpty { SSL_CTX_set_alpn_select_cb(context, TLSCallbacks.selectALPN, nil) }
        } else {
            if !wire.isEmpty {
                guard wire.withUnsafeBufferPointer({ SSL_CTX_set_alpn_protos(context, $0.baseAddress, UInt32($0.count)) }) == 0 else {
                    throw TLSError(.badConfiguration, detail: "OpenSSL refused the ALPN list: \(OpenSSLErrors.drain())")
                }
            }
            if sessions != nil {
                _ = disco_SSL_CTX_set_session_cache_mode(context, Int(SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE))
                SSL_CTX_sess_set_new_cb(context, TLSCallbacks.newClientSession)
            }
        }
    }

    deinit { SSL_CTX_free(pointer) }

    // MARK: Building blocks

    private static func configureProtocol(_ context: OpaquePointer, _ configuration: TLSConfiguration, isServer: Bool) throws(TLSError) {
        guard configuration.minimumVersion <= configuration.maximumVersion else {
            throw TLSError(.badConfiguration, detail: "minimum version \(configuration.minimumVersion) is above the maximum \(configuration.maximumVersion)")
        }
        _ = disco_SSL_CTX_set_min_proto_version(context, configuration.minimumVersion.wire)
        _ = disco_SSL_CTX_set_max_proto_version(context, configuration.maximumVersion.wire)
        // A server takes a client's FIN without close_notify as its end (browsers and curl
        // close so; a request's body is never delimited by the close). A client does not: a
        // response body read until close ends only with close_notify, else someone on the path
        // could cut it short and have the rest look complete (a truncation attack).
        let eofOption = isServer ? disco_SSL_OP_IGNORE_UNEXPECTED_EOF() : 0
        _ = disco_SSL_CTX_set_options(context, disco_SSL_OP_NO_COMPRESSION() | disco_SSL_OP_NO_RENEGOTIATION()
            | eofOption | disco_SSL_OP_CIPHER_SERVER_PREFERENCE())
        // Partial writes and a moving buffer: `write` may be retried with the same bytes from
        // another address and returns after each record, as the transport protocol requires.
        // Record buffers stay with the connection (no SSL_MODE_RELEASE_BUFFERS): releasing them
        // when idle freed and reallocated about 34 KiB on every keep-alive request.
        _ = disco_SSL_CTX_set_mode(context, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        // Read ahead: one `read` takes a whole record (or several) instead of its 5-byte header
        // first and its body second. Input OpenSSL has buffered this way no longer shows on the
        // socket; the transport reports it itself (`SSL_has_pending`).
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_READ_AHEAD, 1, nil)
        let ciphers = configuration.ciphers ?? "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"
        guard SSL_CTX_set_cipher_list(context, ciphers) == 1 else {
            throw TLSError(.badConfiguration, detail: "no usable TLS 1.2 cipher in \(ciphers.debugDescription): \(OpenSSLErrors.drain())")
        }
        if let suites = configuration.cipherSuites {
            guard SSL_CTX_set_ciphersuites(context, suites) == 1 else {
                throw TLSError(.badConfiguration, detail: "no usable TLS 1.3 cipher suite in \(suites.debugDescription): \(OpenSSLErrors.drain())")
            }
        }
    }

    /// The validity period of a certificate, as text and in seconds since the Unix epoch.
    private struct CertificateValidity {
        let notBefore: String
        let notBeforeSeconds: Int64?
        let notAfter: String
        let notAfterSeconds: Int64?
    }

    /// Installs the chain and key and checks that they belong together. Returns the leaf's
    /// subject and validity period.
    private static func installCredentials(_ context: OpaquePointer, chain: PEMSource, key: PEMSource)
        throws(TLSError) -> (String, CertificateValidity)
    {
        let certificates = try TLSError.concerning(.certificateChain) { () throws(TLSError) in
            try PEMLoading.certificates(from: chain, what: "a certificate chain (leaf first)")
        }
        let leaf = certificates[0]
        defer { X509_free(leaf) }
        let subject = X509Text.subject(leaf)
        let validity = CertificateValidity(notBefore: X509Text.notBefore(leaf), notBeforeSeconds: X509Text.notBeforeSeconds(leaf),
                                           notAfter: X509Text.notAfter(leaf), notAfterSeconds: X509Text.notAfterSeconds(leaf))
        guard SSL_CTX_use_certificate(context, leaf) == 1 else {
            certificates.dropFirst().forEach { X509_free($0) }
            let reason = OpenSSLErrors.drain()
            var error = TLSError(.badPEM, source: chain.description,
                                 detail: "OpenSSL refused the certificate \(subject): \(refusal(reason, level: SSL_CTX_get_security_level(context)))")
            error.role = .certificateChain
            throw error
        }
        for intermediate in certificates.dropFirst() where disco_SSL_CTX_add_extra_chain_cert(context, intermediate) != 1 {
            X509_free(intermediate)
            var error = TLSError(.badPEM, source: chain.description, detail: "OpenSSL refused an intermediate certificate: \(OpenSSLErrors.drain())")
            error.role = .certificateChain
            throw error
        }
        let privateKey = try TLSError.concerning(.privateKey) { () throws(TLSError) in try PEMLoading.privateKey(from: key) }
        defer { EVP_PKEY_free(privateKey) }
        guard SSL_CTX_use_PrivateKey(context, privateKey) == 1, SSL_CTX_check_private_key(context) == 1 else {
            let reason = OpenSSLErrors.drain()
            // The key may belong to a later certificate of the file (`cat intermediate.pem
            // leaf.pem`): then the chain's order is what to fix. The context owns those
            // certificates now and keeps them alive until it is freed.
            for (index, certificate) in certificates.enumerated().dropFirst() where X509_check_private_key(certificate, privateKey) == 1 {
                OpenSSLErrors.clear()
                var error = TLSError(.badPEM, source: chain.description,
                                     detail: "the certificates are out of order: the private key in \(key.description) belongs to certificate "
                                         + "\(index + 1) of \(certificates.count) (\(X509Text.subject(certificate))), not to the first (\(subject)); "
                                         + "put the leaf first, then its intermediates")
                error.role = .certificateChain
                throw error
            }
            var error = TLSError(.keyMismatch, source: key.description,
                                 detail: "this private key does not match the certificate \(subject) in \(chain.description) (\(reason))")
            error.role = .privateKey
            throw error
        }
        return (subject, validity)
    }

    /// Why OpenSSL refused to present a certificate, in words that say what to issue instead
    /// (its security level, the system's policy: Debian's is 2, which wants RSA keys of 2048 bits
    /// and signatures stronger than SHA-1).
    private static func refusal(_ reason: String, level: Int32) -> String {
        let rsaBits = [0: 0, 1: 1024, 2: 2048, 3: 3072, 4: 7680][Int(level)] ?? 15360
        if reason.contains("ee key too small") {
            return "its key is too small for OpenSSL's security level \(level) on this system (RSA keys of at least \(rsaBits) bits); "
                + "issue it with a larger RSA key or an EC key (P-256) (\(reason))"
        }
        if reason.contains("ca md too weak") {
            return "it is signed with a digest too weak for OpenSSL's security level \(level) on this system (SHA-1 or MD5); "
                + "issue it signed with SHA-256 (\(reason))"
        }
        return reason
    }

    /// Loads the trust roots when this side verifies its peer (a server only with client
    /// verification on). Returns the subjects of the CAs loaded from PEM, and what identifies
    /// the trust (the CAs' SHA-256 fingerprints, or the directory's path).
    private static func installTrust(_ context: OpaquePointer, _ configuration: TLSConfiguration, isServer: Bool)
        throws(TLSError) -> ([String], [UInt8])
    {
        var subjects: [String] = []
        var identity: [UInt8] = []
        let needsRoots = configuration.verifyPeer || !isServer
        if needsRoots {
            switch configuration.trustRoots {
            case .system:
                if isServer {
                    throw TLSError(.badConfiguration, detail: "verifying client certificates needs a CA certificate (-http-ca-cert or -node-ca-cert)")
                }
                guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                    throw TLSError(.badConfiguration, detail: "cannot load the system's CA certificates: \(OpenSSLErrors.drain())")
                }
            case .directory(let path):
                guard SSL_CTX_load_verify_dir(context, path) == 1 else {
                    throw TLSError(.unreadableFile, source: path, detail: "cannot use it as a CA directory: \(OpenSSLErrors.drain())")
                }
                subjects.append("the CAs in \(path)")
                identity = Array(path.utf8)
                _ = X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(context), UInt(X509_V_FLAG_PARTIAL_CHAIN))
            case .pem(let source):
                let authorities = try PEMLoading.certificates(from: source, what: "one or more CA certificates")
                defer { authorities.forEach { X509_free($0) } }
                let store = SSL_CTX_get_cert_store(context)
                // A CA given twice (bundles concatenated, the same CA in two of them) is one CA:
                // named, counted, added to the trust and sent to clients once.
                var seen: Set<[UInt8]> = []
                for authority in authorities {
                    let subject = X509Text.subject(authority)
                    let fingerprint = X509Text.sha256(authority)
                    guard seen.insert(Array(subject.utf8) + [0] + fingerprint).inserted else { continue }
                    subjects.append(subject)
                    identity.append(contentsOf: fingerprint)
                    guard X509_STORE_add_cert(store, authority) == 1 else {
                        let reason = OpenSSLErrors.drain()
                        if reason.contains("already in hash table") { continue }
                        throw TLSError(.badPEM, source: source.description, detail: "cannot trust \(subject): \(reason)")
                    }
                    if isServer { _ = SSL_CTX_add_client_CA(context, authority) }
                }
                // Every CA named here is an anchor, root or intermediate ("the CA that signs the
                // certificates"), as in Go's crypto/tls and curl: a chain need not reach a root.
                _ = X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(context), UInt(X509_V_FLAG_PARTIAL_CHAIN))
            }
        }
        let mode: Int32
        if !configuration.verifyPeer {
            mode = SSL_VERIFY_NONE
        } else if isServer {
            mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE
        } else {
            mode = SSL_VERIFY_PEER
        }
        SSL_CTX_set_verify(context, mode, configuration.verifyPeer ? TLSCallbacks.verify : nil)
        return (subjects, identity)
    }

    /// Sessions are tied to what verified the client (`trustDigest`, empty when clients are not
    /// verified): a session from before the CAs changed (tickets outlive a reload) is not
    /// resumed, so a client the new CAs do not trust must present a certificate again.
    private static func configureServerSessions(_ context: OpaquePointer, resumption: Bool, trustDigest: [UInt8]) {
        let id = trustDigest.isEmpty ? Array("disco".utf8) : X509Text.sha256(Array("disco".utf8) + trustDigest)
        _ = id.withUnsafeBufferPointer { SSL_CTX_set_session_id_context(context, $0.baseAddress, UInt32($0.count)) }
        if resumption {
            _ = disco_SSL_CTX_set_session_cache_mode(context, Int(SSL_SESS_CACHE_SERVER))
            _ = disco_SSL_CTX_sess_set_cache_size(context, 20_480)
            // One TLS 1.3 ticket per handshake: a client resumes with one.
            _ = SSL_CTX_set_num_tickets(context, 1)
        } else {
            _ = disco_SSL_CTX_set_session_cache_mode(context, Int(SSL_SESS_CACHE_OFF))
            _ = disco_SSL_CTX_set_options(context, disco_SSL_OP_NO_TICKET())
            _ = SSL_CTX_set_num_tickets(context, 0)
        }
    }

    // MARK: Carrying state across a reload

    /// Gives this (new) server context the ticket keys of `previous`, so tickets issued before
    /// a reload still resume.
    func adoptTicketKeys(from previous: TLSContext) {
        guard isServer, previous.isServer, configuration.sessionResumption else { return }
        var keys = [UInt8](repeating: 0, count: 80)
        guard disco_SSL_CTX_get_tlsext_ticket_keys(previous.pointer, &keys, 80) == 1 else { return }
        _ = disco_SSL_CTX_set_tlsext_ticket_keys(pointer, &keys, 80)
    }

    /// The trusted CAs as one phrase for log lines: the first few by name and the rest counted
    /// (a bundle such as the system's 140 CAs would otherwise make every refusal line kilobytes long).
    var trustDescription: String {
        switch configuration.trustRoots {
        case .system: "the system's CA bundle"
        case .directory(let path): "the CAs in \(path)"
        case .pem(let source):
            trustedAuthorities.count <= Self.authoritiesNamed
                ? trustedAuthorities.map { "\"\($0)\"" }.joined(separator: ", ")
                : trustedAuthorities.prefix(Self.authoritiesNamed).map { "\"\($0)\"" }.joined(separator: ", ")
                    + " and \(trustedAuthorities.count - Self.authoritiesNamed) more in \(source.description)"
        }
    }

    /// How many trusted CAs a log line names.
    static let authoritiesNamed = 3
}

/// Handshake outcomes of one context.
final class TLSHandshakeCounters: Sendable {
    let completed = Atomic<Int>(0)
    let resumed = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
}

/// OpenSSL without its exit-time cleanup: a process that exits while its event loops still hold
/// connections must not have OpenSSL's tables freed under them.
let initializeOpenSSLOnce: Void = {
    _ = OPENSSL_init_crypto(UInt64(OPENSSL_INIT_NO_ATEXIT), nil)
    _ = OPENSSL_init_ssl(0, nil)
}()
