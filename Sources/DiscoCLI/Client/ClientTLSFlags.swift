import DiscoCore
import DiscoNet

// MARK: - HTTPS to the node

/// `-ca-cert`, `-cert`, `-key`, `-insecure`: how discoctl speaks HTTPS to a node that serves its
/// API with `-http-cert` (and checks client certificates with `-http-verify-client`). Any of them
/// makes an `-addr` without a scheme `https://`; an `https://` address without them trusts the
/// system's CAs.
struct ClientTLSFlags: Sendable {
    let caCert: Flag<String>
    let cert: Flag<String>
    let key: Flag<String>
    let insecure: Flag<Bool>

    init(_ set: inout FlagSet) {
        caCert = set.string("ca-cert", usage: "PEM file of the CA that signed the node's API certificate (its -http-cert);\n"
                                + "implies https://", typeName: "path")
        cert = set.string("cert", usage: "PEM certificate to present to a node started with -http-verify-client (with -key)",
                          typeName: "path")
        key = set.string("key", usage: "PEM private key of -cert", typeName: "path")
        insecure = set.bool("insecure", usage: "Speak HTTPS without verifying the node's certificate (testing only)")
    }

    /// The HTTPS settings the flags give (`nil`: none given). A certificate without its key, or
    /// a key without its certificate, is refused naming the missing one.
    func resolve(caCert: String?, cert: String?, key: String?, insecure isInsecure: Bool) throws(FlagError) -> ClientTLSOptions? {
        switch (cert, key) {
        case (_?, nil): throw FlagError.conflict("cert", "-cert needs its private key: give -key too")
        case (nil, _?): throw FlagError.conflict("key", "-key needs its certificate: give -cert too")
        default: break
        }
        guard caCert != nil || cert != nil || isInsecure else { return nil }
        return ClientTLSOptions(caCert: caCert, cert: cert, key: key, insecure: isInsecure)
    }
}

/// HTTPS settings from the command line.
struct ClientTLSOptions: Sendable, Equatable {
    let caCert: String?
    let cert: String?
    let key: String?
    let insecure: Bool

    /// The client's TLS configuration; files are read by ``makeClient(_:)``.
    var configuration: TLSConfiguration {
        var tls = TLSConfiguration.client(trustRoots: caCert.map { .pem(.file($0)) } ?? .system, label: "discoctl")
        if let cert, let key {
            tls.certificateChain = .file(cert)
            tls.privateKey = .file(key)
        }
        tls.verifyPeer = !insecure
        return tls
    }

    /// An HTTP client that speaks HTTPS with these settings; a file that cannot be used is a
    /// usage error naming the flag and the file.
    static func makeClient(_ options: ClientTLSOptions?) throws(FlagError) -> HTTPClient {
        guard let options else { return HTTPClient() }
        do {
            var configuration = HTTPClientConfiguration()
            configuration.httpsTransport = try TLSTransportFactory.client(options.configuration)
            return HTTPClient(configuration: configuration)
        } catch {
            let flag = switch error.role {
            case .privateKey?: "key"
            case .certificateChain?: "cert"
            case .trustRoots?: "ca-cert"
            default: error.code == .keyMismatch ? "key" : "cert"
            }
            throw FlagError.invalid(flag, "\(error)")
        }
    }
}
