// MARK: - TLSFiles

/// The certificate files of one TLS listener (`-http-*` or `-node-*`), as given.
public struct TLSFiles: Sendable, Hashable {
    /// PEM certificate chain; nil: no TLS on this port.
    public var certificate: String?
    /// PEM private key of ``certificate``.
    public var key: String?
    /// PEM CA certificate(s) for peers' certificates; nil: the system's CAs.
    public var caCertificate: String?
    /// Require and verify client certificates.
    public var verifyClient: Bool

    public init(certificate: String? = nil, key: String? = nil, caCertificate: String? = nil, verifyClient: Bool = false) {
        self.certificate = certificate.flatMap { $0.isEmpty ? nil : $0 }
        self.key = key.flatMap { $0.isEmpty ? nil : $0 }
        self.caCertificate = caCertificate.flatMap { $0.isEmpty ? nil : $0 }
        self.verifyClient = verifyClient
    }

    /// Whether the port speaks TLS.
    public var isEnabled: Bool { certificate != nil }
}
