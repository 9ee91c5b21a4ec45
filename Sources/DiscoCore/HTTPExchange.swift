// MARK: - HTTPExchanging

/// One HTTP request as discovery backends send it: a full URL (`http://host:port/path?query`),
/// headers and a body.
public struct HTTPExchangeRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

/// The response to an ``HTTPExchangeRequest``.
public struct HTTPExchangeResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first(where: { $0.name.lowercased() == wanted })?.value
    }

    /// The body as UTF-8 text (invalid bytes replaced), for error messages.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Something that performs HTTP exchanges: DiscoNet's pooled client in the product, in-process
/// doubles in tests. Discovery backends that speak HTTP (Consul, etcd) depend only on this.
public protocol HTTPExchanging: Sendable {
    /// Sends `request` and returns the response, or throws when the server cannot be reached or
    /// does not answer within `timeout`. A non-2xx status is a response, not an error.
    func exchange(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPExchangeResponse

    /// The same transport with `https://` URLs using `settings` (CA, client certificate,
    /// verification); throws naming the file or field that cannot be used, or when this
    /// transport cannot speak TLS.
    func withTLS(_ settings: ClientTLSSettings) throws -> any HTTPExchanging
}

extension HTTPExchanging {
    public func withTLS(_ settings: ClientTLSSettings) throws -> any HTTPExchanging {
        throw DiscoveryError(.unreachable, server: settings.origin, record: "tls", detail: "this transport cannot speak TLS")
    }
}

// MARK: - ClientTLSSettings

/// TLS settings of a discovery client, in the terms of disco-config (Consul's `tls_config`,
/// etcd's `ca_file`, `cert_file`, `key_file`, `insecure_skip_verify`).
public struct ClientTLSSettings: Sendable, Hashable {
    /// CA bundle file trusted for the server's certificate (else ``caPEM``, ``caPath``, the system's CAs).
    public var caFile: String?
    /// Directory of hashed CA certificates.
    public var caPath: String?
    /// CA certificates as PEM bytes (Consul's `ca_pem`, base64 in JSON).
    public var caPEM: [UInt8]?
    /// Client certificate (file or PEM bytes) and its key, for servers that require one.
    public var certFile: String?
    public var certPEM: [UInt8]?
    public var keyFile: String?
    public var keyPEM: [UInt8]?
    /// Accept any server certificate (testing only).
    public var insecureSkipVerify: Bool = false
    /// Name to verify and send as SNI instead of the host connected to.
    public var serverName: String?
    /// Where the settings came from, for messages (`disco-config tls_config`).
    public var origin: String

    public init(origin: String) { self.origin = origin }
}
