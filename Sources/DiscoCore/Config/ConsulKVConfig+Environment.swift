// MARK: - Consul's environment variables

extension ConsulKVConfig {
    /// The environment variables Consul's Go client reads for its defaults (`api.DefaultConfig`),
    /// and so rqlite, which builds its Consul client on it.
    public enum EnvironmentVariable {
        /// `host:port`, `http://host:port` or `https://host:port` (https turns TLS on).
        public static let address = "CONSUL_HTTP_ADDR"
        /// `true` turns TLS on.
        public static let ssl = "CONSUL_HTTP_SSL"
        /// `false` skips verifying the server's certificate.
        public static let sslVerify = "CONSUL_HTTP_SSL_VERIFY"
        public static let token = "CONSUL_HTTP_TOKEN"
        public static let tokenFile = "CONSUL_HTTP_TOKEN_FILE"
        /// `user:password` (or `user`) for HTTP basic authentication.
        public static let auth = "CONSUL_HTTP_AUTH"
        public static let caFile = "CONSUL_CACERT"
        public static let caPath = "CONSUL_CAPATH"
        public static let clientCert = "CONSUL_CLIENT_CERT"
        public static let clientKey = "CONSUL_CLIENT_KEY"
        public static let tlsServerName = "CONSUL_TLS_SERVER_NAME"
        public static let namespace = "CONSUL_NAMESPACE"
        public static let partition = "CONSUL_PARTITION"
    }

    /// This configuration with each setting it leaves out taken from Consul's environment
    /// variables, as Consul's Go client (`api.NewClient` over `api.DefaultConfig`, which rqlite
    /// uses) fills them: a field set in disco-config wins over its variable; `CONSUL_HTTP_ADDR`
    /// with `https://` or `CONSUL_HTTP_SSL=true` turn TLS on unless disco-config sets `scheme`; the
    /// TLS variables apply only when TLS is on; a token file (disco-config's, else
    /// `CONSUL_HTTP_TOKEN_FILE`) is preferred to a token. An empty variable counts as unset.
    ///
    /// - Throws: ``ConfigError`` naming the variable when its value cannot be used.
    public func applyingEnvironment(_ lookup: (String) -> String?) throws(ConfigError) -> ConsulKVConfig {
        typealias Variable = EnvironmentVariable
        func value(_ name: String) -> String? { lookup(name).flatMap { $0.isEmpty ? nil : $0 } }
        func flag(_ name: String) throws(ConfigError) -> Bool? {
            guard let text = value(name) else { return nil }
            guard let parsed = GoValueParsing.parseBool(text) else {
                throw Self.environmentError(name, "expected true or false, got \(text.debugDescription)")
            }
            return parsed
        }
        var config = self
        if config.address == nil, let text = value(Variable.address) {
            let parsed: PeerAddress
            do throws(PeerAddressError) {
                parsed = try PeerAddress(parsing: text)
            } catch {
                throw Self.environmentError(Variable.address, "\(error)")
            }
            config.address = PeerAddress(host: parsed.host, port: parsed.port)
            // As Consul's client: https:// in the address asks for TLS, http:// changes nothing.
            if parsed.scheme == .https { config.scheme = .https }
        }
        if config.scheme == nil, try flag(Variable.ssl) == true { config.scheme = .https }
        if config.token?.isEmpty != false, config.tokenFile?.isEmpty != false {
            config.tokenFile = value(Variable.tokenFile)
            config.token = value(Variable.token)
        }
        if config.basicAuth == nil, let text = value(Variable.auth) {
            let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            config.basicAuth = BasicAuth(username: String(parts[0]), password: parts.count > 1 ? String(parts[1]) : "")
        }
        if config.namespace?.isEmpty != false, let text = value(Variable.namespace) { config.namespace = text }
        if config.partition?.isEmpty != false, let text = value(Variable.partition) { config.partition = text }
        guard config.effectiveScheme == .https else { return config }
        var tls = config.tls ?? TLSConfig()
        func fill(_ field: inout String?, _ name: String) {
            if field?.isEmpty != false, let text = value(name) { field = text }
        }
        fill(&tls.address, Variable.tlsServerName)
        fill(&tls.caFile, Variable.caFile)
        fill(&tls.caPath, Variable.caPath)
        fill(&tls.certFile, Variable.clientCert)
        fill(&tls.keyFile, Variable.clientKey)
        if !tls.insecureSkipVerify, try flag(Variable.sslVerify) == false { tls.insecureSkipVerify = true }
        let hasCert = tls.certFile?.isEmpty == false || tls.certPEM?.isEmpty == false
        let hasKey = tls.keyFile?.isEmpty == false || tls.keyPEM?.isEmpty == false
        if hasCert != hasKey {
            let missing = hasCert ? Variable.clientKey : Variable.clientCert
            throw Self.environmentError(missing, "a client certificate needs both a certificate (tls_config cert_file or "
                + "\(Variable.clientCert)) and a key (tls_config key_file or \(Variable.clientKey))")
        }
        if config.tls != nil || tls != TLSConfig() { config.tls = tls }
        return config
    }

    static func environmentError(_ variable: String, _ problem: String) -> ConfigError {
        ConfigError(code: .invalidValue, field: variable,
                    message: "environment variable \(variable) (read for consul-kv settings disco-config leaves out): \(problem)")
    }
}

extension ConfigError {
    /// Whether this error is about one of Consul's `CONSUL_*` environment variables
    /// (``ConsulKVConfig/applyingEnvironment(_:)``) rather than about `-disco-config`'s text: its
    /// message names the variable, and a caller should not present it as the flag's fault.
    public var isAboutConsulEnvironment: Bool { field?.hasPrefix("CONSUL_") == true }
}
