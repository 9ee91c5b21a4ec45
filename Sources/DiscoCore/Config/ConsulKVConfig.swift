// MARK: - consul-kv mode

/// disco-config for `-disco-mode consul-kv`, with the JSON names of rqlite-disco-clients'
/// Consul config. Every field is optional; absent fields use Consul's client defaults
/// (`127.0.0.1:8500`, `http`, and the `CONSUL_HTTP_*` environment variables).
public struct ConsulKVConfig: Sendable, Hashable {
    public static let fields = ["address", "scheme", "datacenter", "token", "token_file", "namespace",
                                "partition", "basic_auth", "tls_config"]

    /// `basic_auth`: HTTP basic authentication.
    public struct BasicAuth: Sendable, Hashable {
        public static let fields = ["username", "password"]
        public var username: String
        public var password: String
    }

    /// `tls_config`: client TLS settings (files, or PEM bytes as base64).
    public struct TLSConfig: Sendable, Hashable {
        public static let fields = ["address", "ca_file", "ca_path", "ca_pem", "cert_file", "cert_pem",
                                    "key_file", "key_pem", "insecure_skip_verify"]
        /// Server name to verify (SNI), if different from the address host.
        public var address: String?
        public var caFile: String?
        public var caPath: String?
        public var caPEM: [UInt8]?
        public var certFile: String?
        public var certPEM: [UInt8]?
        public var keyFile: String?
        public var keyPEM: [UInt8]?
        public var insecureSkipVerify: Bool = false
    }

    /// The agent, `host:port` (no scheme: use ``scheme``).
    public var address: PeerAddress?
    /// `http` or `https`.
    public var scheme: PeerAddress.Scheme?
    public var datacenter: String?
    /// ACL token.
    public var token: String?
    /// File holding the ACL token.
    public var tokenFile: String?
    /// Enterprise namespace.
    public var namespace: String?
    /// Enterprise admin partition.
    public var partition: String?
    public var basicAuth: BasicAuth?
    public var tls: TLSConfig?

    /// The Consul client defaults (every field absent).
    public init() {}

    /// `https` when asked for, or when `tls_config` is given without a scheme.
    public var effectiveScheme: PeerAddress.Scheme { scheme ?? (tls == nil ? .http : .https) }

    /// `tls_config` as client TLS settings (`address` without its port is the name verified).
    public var clientTLS: ClientTLSSettings? {
        guard let tls else { return nil }
        var settings = ClientTLSSettings(origin: "disco-config tls_config")
        settings.caFile = tls.caFile.flatMap { $0.isEmpty ? nil : $0 }
        settings.caPath = tls.caPath.flatMap { $0.isEmpty ? nil : $0 }
        settings.caPEM = tls.caPEM.flatMap { $0.isEmpty ? nil : $0 }
        settings.certFile = tls.certFile.flatMap { $0.isEmpty ? nil : $0 }
        settings.certPEM = tls.certPEM.flatMap { $0.isEmpty ? nil : $0 }
        settings.keyFile = tls.keyFile.flatMap { $0.isEmpty ? nil : $0 }
        settings.keyPEM = tls.keyPEM.flatMap { $0.isEmpty ? nil : $0 }
        settings.insecureSkipVerify = tls.insecureSkipVerify
        if let address = tls.address, !address.isEmpty {
            settings.serverName = (try? PeerAddress(parsing: address, defaultPort: 1))?.host ?? address
        }
        return settings
    }

    /// Decodes and validates the JSON object.
    public init(json: JSONValue) throws(ConfigError) {
        let reader = try JSONObjectReader(json, context: "disco-config for consul-kv", allowedFields: Self.fields)
        if let text = try reader.nonEmptyString("address") {
            if text.contains("://") {
                throw reader.error("address", "expected host:port such as \"consul.local:8500\" without http:// or https:// (set \"scheme\": \"https\" for TLS), got \(JSONValue.string(text).errorDescription)")
            }
            do throws(PeerAddressError) {
                address = try PeerAddress(parsing: text)
            } catch {
                throw reader.error("address", "\(error)")
            }
        }
        if let text = try reader.string("scheme") {
            guard let parsed = PeerAddress.Scheme(rawValue: text) else {
                throw reader.error("scheme", "expected \"http\" or \"https\", got \(JSONValue.string(text).errorDescription)")
            }
            scheme = parsed
        }
        datacenter = try reader.string("datacenter")
        token = try reader.string("token")
        tokenFile = try reader.string("token_file")
        namespace = try reader.string("namespace")
        partition = try reader.string("partition")
        if token?.isEmpty == false, tokenFile?.isEmpty == false {
            throw reader.error("token_file", "set either \"token\" or \"token_file\", not both")
        }
        if let auth = try reader.object("basic_auth", allowedFields: BasicAuth.fields) {
            basicAuth = BasicAuth(username: try auth.string("username") ?? "", password: try auth.string("password") ?? "")
        }
        if let tlsReader = try reader.object("tls_config", allowedFields: TLSConfig.fields) {
            var tls = TLSConfig()
            tls.address = try tlsReader.string("address")
            tls.caFile = try tlsReader.string("ca_file")
            tls.caPath = try tlsReader.string("ca_path")
            tls.caPEM = try tlsReader.base64Bytes("ca_pem")
            tls.certFile = try tlsReader.string("cert_file")
            tls.certPEM = try tlsReader.base64Bytes("cert_pem")
            tls.keyFile = try tlsReader.string("key_file")
            tls.keyPEM = try tlsReader.base64Bytes("key_pem")
            tls.insecureSkipVerify = try tlsReader.bool("insecure_skip_verify") ?? false
            let hasCert = tls.certFile?.isEmpty == false || tls.certPEM?.isEmpty == false
            let hasKey = tls.keyFile?.isEmpty == false || tls.keyPEM?.isEmpty == false
            if hasCert != hasKey {
                throw tlsReader.error(hasCert ? "key_file" : "cert_file",
                                      "a client certificate needs both a certificate (cert_file or cert_pem) and a key (key_file or key_pem)")
            }
            if scheme == .http {
                throw reader.error("scheme", "\"http\" does not use tls_config; set \"scheme\": \"https\" (or leave it out)")
            }
            self.tls = tls
        }
    }
}
