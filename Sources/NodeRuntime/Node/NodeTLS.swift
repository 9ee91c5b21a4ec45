import DiscoCore
import DiscoNet

// MARK: - NodeTLS

/// The node's TLS contexts, loaded from the `-http-*` and `-node-*` files:
///
/// - the HTTPS API (server; client certificates required with `-http-verify-client`),
/// - the client for other nodes' APIs (join, notify, forwarded writes): trusts `-http-ca-cert`
///   (else the system's CAs) and presents `-http-cert` to peers that require client certificates,
/// - the internode port (server; mutual TLS with `-node-verify-client`) and the client to peers'
///   internode ports (presents `-node-cert`; verifies peers against `-node-ca-cert` unless
///   `-node-no-verify`).
///
/// Every context reloads from its files on ``reload(onlyIfChanged:)``: the node polls for
/// changed files and `discod` reloads on SIGHUP.
public struct NodeTLS: Sendable {
    public let apiServer: TLSContextStore?
    public let apiClient: TLSContextStore?
    public let internodeServer: TLSContextStore?
    public let internodeClient: TLSContextStore?

    /// No TLS anywhere.
    public static let none = NodeTLS(apiServer: nil, apiClient: nil, internodeServer: nil, internodeClient: nil)

    init(apiServer: TLSContextStore?, apiClient: TLSContextStore?, internodeServer: TLSContextStore?, internodeClient: TLSContextStore?) {
        self.apiServer = apiServer
        self.apiClient = apiClient
        self.internodeServer = internodeServer
        self.internodeClient = internodeClient
    }

    /// The scheme of this node's API, and (every node of a cluster being alike) of its peers'.
    public var apiScheme: PeerAddress.Scheme { apiServer == nil ? .http : .https }

    /// The stores with a name for log lines.
    var stores: [(name: String, store: TLSContextStore)] {
        [("HTTPS API", apiServer), ("HTTPS client", apiClient), ("internode port", internodeServer), ("internode client", internodeClient)]
            .compactMap { name, store in store.map { (name, $0) } }
    }

    // MARK: Loading

    /// Loads every context the configuration asks for. Throws naming the flag and the file when
    /// one cannot be read, is not PEM, or a key does not match its certificate.
    public static func load(_ configuration: NodeConfiguration.TLS, logger: Logger) throws(NodeTLSError) -> NodeTLS {
        let http = configuration.api
        let node = configuration.internode
        let tlsLogger = logger.withLabel("tls")

        var apiServer: TLSContextStore?
        var apiClient: TLSContextStore?
        if let certificate = http.certificate, let key = http.key {
            var server = TLSConfiguration.server(certificateChain: .file(certificate), privateKey: .file(key), label: "HTTPS API")
            if let ca = http.caCertificate { server.trustRoots = .pem(.file(ca)) }
            server.verifyPeer = http.verifyClient
            server.logger = tlsLogger
            apiServer = try loading(flagsFor: "http") { () throws(TLSError) in try TLSContextStore(server: server) }
        }
        if http.isEnabled || http.caCertificate != nil {
            var client = TLSConfiguration.client(trustRoots: http.caCertificate.map { .pem(.file($0)) } ?? .system, label: "HTTPS client")
            if let certificate = http.certificate, let key = http.key {
                client.certificateChain = .file(certificate)
                client.privateKey = .file(key)
            }
            client.logger = tlsLogger
            apiClient = try loading(flagsFor: "http") { () throws(TLSError) in try TLSContextStore(client: client) }
        }

        var internodeServer: TLSContextStore?
        var internodeClient: TLSContextStore?
        if let certificate = node.certificate, let key = node.key {
            let roots: TLSConfiguration.TrustRoots = node.caCertificate.map { .pem(.file($0)) } ?? .system
            var server = TLSConfiguration.server(certificateChain: .file(certificate), privateKey: .file(key), label: "internode port")
            server.trustRoots = roots
            server.verifyPeer = node.verifyClient
            server.applicationProtocols = []
            server.logger = tlsLogger
            var client = TLSConfiguration.client(trustRoots: roots, label: "internode client")
            client.certificateChain = .file(certificate)
            client.privateKey = .file(key)
            client.verifyPeer = !configuration.internodeNoVerify
            client.applicationProtocols = []
            client.logger = tlsLogger
            internodeServer = try loading(flagsFor: "node") { () throws(TLSError) in try TLSContextStore(server: server) }
            internodeClient = try loading(flagsFor: "node") { () throws(TLSError) in try TLSContextStore(client: client) }
        }
        return NodeTLS(apiServer: apiServer, apiClient: apiClient, internodeServer: internodeServer, internodeClient: internodeClient)
    }

    /// Checks the TLS files a disco-config names (Consul's `tls_config`, etcd's `ca_file`,
    /// `cert_file`, `key_file`) by loading them once; throws naming the file that cannot be used.
    public static func checkDiscoveryFiles(_ discoConfig: DiscoConfig?) throws {
        let settings: ClientTLSSettings?
        switch discoConfig {
        case .consulKV(let consul)?: settings = consul.clientTLS
        case .etcdKV(let etcd)?: settings = etcd.tls
        default: settings = nil
        }
        guard let settings else { return }
        _ = try HTTPClient().withTLS(settings)
    }

    // MARK: Reloading

    /// Reloads every context (all of them, or only those whose files changed) and logs what
    /// happened: the new certificate, or why the old one keeps serving.
    public func reload(onlyIfChanged: Bool, logger: Logger) {
        for (name, store) in stores {
            let outcome = onlyIfChanged ? store.reloadIfChanged() : store.reload()
            switch outcome {
            case .unchanged:
                continue
            case .reloaded(let context):
                let certificate = context.certificateSubject.map { "certificate \($0), valid until \(context.certificateNotAfter ?? "?")" }
                    ?? "no certificate"
                logger.info("TLS for the \(name) reloaded from \(store.configuration.files.joined(separator: ", ")): \(certificate)")
            case .failed(let error):
                logger.error("TLS reload for the \(name) failed; still using the previous certificate: \(error)")
            }
        }
    }

    /// The stores with their metrics label (`api`, `api_client`, `internode`, `internode_client`).
    var labelledStores: [(label: String, store: TLSContextStore)] {
        [("api", apiServer), ("api_client", apiClient), ("internode", internodeServer), ("internode_client", internodeClient)]
            .compactMap { label, store in store.map { (label, $0) } }
    }

    /// `{"api": {...}, "internode": {...}}` for `/status`: what each port presents.
    var statusJSON: JSONValue {
        func describe(_ store: TLSContextStore?, verifiesClients: Bool) -> JSONValue {
            guard let store else { return .null }
            let context = store.current
            return [
                "certificate": context.certificateSubject.map(JSONValue.string) ?? .null,
                "not_after": context.certificateNotAfter.map(JSONValue.string) ?? .null,
                "verify_client": .bool(verifiesClients && store.configuration.verifyPeer),
                "handshakes": .number(JSONNumber(context.handshakesCompleted)),
                "resumed": .number(JSONNumber(context.sessionsResumed)),
                "failed": .number(JSONNumber(context.handshakesFailed)),
            ]
        }
        return ["api": describe(apiServer, verifiesClients: true), "internode": describe(internodeServer, verifiesClients: true)]
    }
}

// MARK: - Errors

/// A TLS file named on the command line that cannot be used; names the flag and the file.
public struct NodeTLSError: Error, CustomStringConvertible {
    /// The flag that named the file, when known (`http-key`).
    public let flag: String?
    public let underlying: TLSError

    public var description: String {
        guard let flag else { return "TLS: \(underlying)" }
        return "-\(flag) \(underlying)"
    }
}

extension NodeTLS {
    /// Runs `body`, naming in a failure the `-<prefix>-cert`, `-key` or `-ca-cert` flag of the file concerned.
    static func loading<T>(flagsFor prefix: String, _ body: () throws(TLSError) -> T) throws(NodeTLSError) -> T {
        do {
            return try body()
        } catch {
            let flag: String? = switch error.role {
            case .certificateChain?: "\(prefix)-cert"
            case .privateKey?: "\(prefix)-key"
            case .trustRoots?: "\(prefix)-ca-cert"
            default: nil
            }
            throw NodeTLSError(flag: flag, underlying: error)
        }
    }
}
