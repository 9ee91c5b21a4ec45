import DiscoCore

// MARK: - Where PEM comes from

/// PEM text for a certificate chain, a private key or a CA bundle: a file (read when the
/// context is built and again at every reload) or bytes given in code or in a config.
public enum PEMSource: Sendable, Hashable, CustomStringConvertible {
    /// A file path, read at load and reload.
    case file(String)
    /// PEM bytes; `name` says where they came from in messages (e.g. `tls_config.ca_pem`).
    case bytes([UInt8], name: String)

    /// The path when the PEM lives in a file (watched for changes).
    public var path: String? {
        if case .file(let path) = self { return path }
        return nil
    }

    /// What messages call it: the path, or the name of the bytes.
    public var description: String {
        switch self {
        case .file(let path): path
        case .bytes(_, let name): name
        }
    }
}

// MARK: - Versions

/// A TLS protocol version Disco speaks (1.2 and 1.3; older versions are not offered).
public struct TLSVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    let wire: Int32

    public static let tls12 = TLSVersion(wire: 0x0303)
    public static let tls13 = TLSVersion(wire: 0x0304)

    public static func < (lhs: TLSVersion, rhs: TLSVersion) -> Bool { lhs.wire < rhs.wire }

    public var description: String { self == .tls13 ? "TLS 1.3" : "TLS 1.2" }
}

// MARK: - Configuration

/// One side's TLS settings: what a server presents and whom it accepts, or what a client
/// trusts and presents. A value: a server (``HTTPServer``, a listener, the sidecar) or a client
/// builds a ``TLSContextStore`` from it, which loads the files and reloads them when they change.
///
/// Server: ``certificateChain`` and ``privateKey`` are required; ``verifyPeer`` requires and
/// verifies a client certificate against ``trustRoots`` (mutual TLS).
/// Client: ``verifyPeer`` (on by default) checks the server's chain against ``trustRoots`` and
/// its name or IP against the host asked for; a certificate and key, when set, are presented
/// to servers that ask for one.
public struct TLSConfiguration: Sendable {
    /// Which certificate authorities are trusted to sign the peer's certificate.
    public enum TrustRoots: Sendable, Hashable, CustomStringConvertible {
        /// The system's bundle (`/etc/ssl/certs`, OpenSSL's default paths).
        case system
        /// A PEM bundle of one or more CA certificates.
        case pem(PEMSource)
        /// A directory of hashed CA certificates (`c_rehash`), as Consul's `ca_path`.
        case directory(String)

        public var description: String {
            switch self {
            case .system: "the system's CA bundle"
            case .pem(let source): source.description
            case .directory(let path): path
            }
        }
    }

    /// The certificate chain presented to the peer (leaf first, then intermediates).
    public var certificateChain: PEMSource?
    /// The private key of the leaf certificate.
    public var privateKey: PEMSource?
    /// The CAs that may sign the peer's certificate.
    public var trustRoots: TrustRoots
    /// Server: require a client certificate signed by ``trustRoots``. Client: verify the
    /// server's chain and name (turn off only for testing: `-insecure`, `-node-no-verify`).
    public var verifyPeer: Bool
    /// Lowest version offered or accepted (default TLS 1.2).
    public var minimumVersion: TLSVersion
    /// Highest version offered or accepted (default: TLS 1.3).
    public var maximumVersion: TLSVersion
    /// TLS 1.3 cipher suites in OpenSSL's syntax (nil: OpenSSL's defaults).
    public var cipherSuites: String?
    /// TLS 1.2 ciphers in OpenSSL's syntax (nil: a list of AEAD ciphers with forward secrecy).
    public var ciphers: String?
    /// ALPN protocols, preferred first (default `http/1.1`). A server selects the first it
    /// shares with the client and carries on without ALPN when there is none.
    public var applicationProtocols: [String]
    /// Time allowed from the first byte (or from connect) to a finished handshake.
    public var handshakeTimeout: Duration
    /// Client: the name sent as SNI and verified in the certificate instead of the host
    /// connected to (Consul's `tls_config.address`).
    public var serverName: String?
    /// Session resumption: tickets and a session cache on servers, a cache of sessions per
    /// server on clients.
    public var sessionResumption: Bool
    /// Where handshake failures (with the reason, the peer's subject and the trusted CAs),
    /// plaintext on the TLS port and stalled handshakes are reported; nil keeps them quiet.
    public var logger: Logger?
    /// What this TLS endpoint is, for log lines: `HTTPS API`, `internode port`, `etcd client`.
    public var label: String

    /// Settings with no credentials: a client trusting the system's CAs and verifying servers.
    public init(trustRoots: TrustRoots = .system, verifyPeer: Bool = true, label: String = "TLS") {
        self.certificateChain = nil
        self.privateKey = nil
        self.trustRoots = trustRoots
        self.verifyPeer = verifyPeer
        self.minimumVersion = .tls12
        self.maximumVersion = .tls13
        self.cipherSuites = nil
        self.ciphers = nil
        self.applicationProtocols = ["http/1.1"]
        self.handshakeTimeout = .seconds(10)
        self.serverName = nil
        self.sessionResumption = true
        self.logger = nil
        self.label = label
    }

    /// A server presenting `certificateChain` with `privateKey`; clients are not asked for a
    /// certificate unless ``verifyPeer`` is set (then they must present one signed by
    /// ``trustRoots``).
    public static func server(certificateChain: PEMSource, privateKey: PEMSource, label: String = "TLS server") -> TLSConfiguration {
        var configuration = TLSConfiguration(verifyPeer: false, label: label)
        configuration.certificateChain = certificateChain
        configuration.privateKey = privateKey
        return configuration
    }

    /// A client trusting `trustRoots`, verifying servers, presenting no certificate.
    public static func client(trustRoots: TrustRoots = .system, label: String = "TLS client") -> TLSConfiguration {
        TLSConfiguration(trustRoots: trustRoots, verifyPeer: true, label: label)
    }

    /// Every file the configuration reads (watched for reloads), in a stable order.
    public var files: [String] {
        var paths: [String] = []
        if let path = certificateChain?.path { paths.append(path) }
        if let path = privateKey?.path { paths.append(path) }
        switch trustRoots {
        case .pem(let source): if let path = source.path { paths.append(path) }
        case .directory(let path): paths.append(path)
        case .system: break
        }
        return paths
    }
}
