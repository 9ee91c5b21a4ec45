import DiscoCore
import DiscoNet
import Sidecar

// MARK: - The proxy's TLS contexts

/// The proxy's two TLS sides, loaded from the files its configuration names: the server that
/// terminates HTTPS (`-proxy-cert`/`-proxy-key`, else the API's) and the client that forwards
/// writes to the writer's HTTPS proxy, verifying its certificate against `-proxy-ca-cert` (else
/// `-http-ca-cert`, else the system's CAs) and the name the writer announced or
/// `-proxy-server-name`. A file that cannot be used throws ``ProxyTLSError`` naming the flag.
public enum ProxyTLS {
    /// The listener's side.
    public static func server(_ files: ProxyTLSFiles, logger: Logger?) throws(ProxyTLSError) -> TLSTransportFactory {
        var tls = TLSConfiguration.server(certificateChain: .file(files.certificate), privateKey: .file(files.key), label: "proxy TLS")
        tls.logger = logger
        return try naming(certificate: "\(files.flagPrefix)-cert", key: "\(files.flagPrefix)-key", ca: nil) { () throws(TLSError) in
            try TLSTransportFactory.server(tls)
        }
    }

    /// The client to the writer's proxy.
    public static func writerClient(_ peer: ProxyPeerTLS, logger: Logger?) throws(ProxyTLSError) -> TLSTransportFactory {
        var tls = TLSConfiguration.client(trustRoots: peer.caCertificate.map { .pem(.file($0)) } ?? .system, label: "writer's proxy")
        tls.serverName = peer.serverName
        tls.logger = logger
        return try naming(certificate: nil, key: nil, ca: peer.caFlag) { () throws(TLSError) in try TLSTransportFactory.client(tls) }
    }

    /// Loads every file once (`-validate`, and before the node starts). What a start would warn
    /// about (a certificate that has expired or is not valid yet still serves) goes to `logger`.
    public static func check(_ configuration: ProxyConfiguration, logger: Logger? = nil) throws(ProxyTLSError) {
        if let files = configuration.tls { _ = try server(files, logger: logger) }
        if configuration.tls != nil || configuration.peerTLS.caCertificate != nil {
            _ = try writerClient(configuration.peerTLS, logger: logger)
        }
    }

    private static func naming<T>(certificate: String?, key: String?, ca: String?,
                                  _ body: () throws(TLSError) -> T) throws(ProxyTLSError) -> T {
        do {
            return try body()
        } catch {
            let flag: String? = switch error.role {
            case .certificateChain?: certificate
            case .privateKey?: key
            case .trustRoots?: ca
            default: certificate ?? ca
            }
            throw ProxyTLSError(flag: flag, underlying: error)
        }
    }
}

// MARK: - Reloading

/// The proxy's reloadable TLS contexts: the listener's certificate and the writer client's CAs.
struct ProxyTLSStores: Sendable {
    let server: TLSContextStore?
    let writerClient: TLSContextStore?

    var all: [(name: String, store: TLSContextStore)] {
        [("proxy's HTTPS listener", server), ("client to the writer's proxy", writerClient)]
            .compactMap { name, store in store.map { (name, $0) } }
    }

    /// Reloads every store (or those whose files changed) and logs what each did.
    func reload(onlyIfChanged: Bool, logger: Logger) {
        for (name, store) in all {
            let outcome = onlyIfChanged ? store.reloadIfChanged() : store.reload()
            switch outcome {
            case .unchanged: continue
            case .reloaded: logger.info("TLS for the \(name) \(outcome) from \(store.configuration.files.joined(separator: ", "))")
            case .failed: logger.error("TLS for the \(name): \(outcome)")
            }
        }
    }

    /// Polls the files until cancelled.
    func watch(every interval: Duration, logger: Logger) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled else { return }
            reload(onlyIfChanged: true, logger: logger)
        }
    }
}

/// A proxy TLS file that cannot be used: the flag that named it and what is wrong.
public struct ProxyTLSError: Error, CustomStringConvertible {
    /// `proxy-cert`, `proxy-key`, `proxy-ca-cert` (or the `http-` flag the file came from).
    public let flag: String?
    public let underlying: TLSError

    public var description: String {
        guard let flag else { return "proxy TLS: \(underlying)" }
        return "-\(flag) \(underlying)"
    }
}
