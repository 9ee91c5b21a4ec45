import DiscoCore
import DiscoNet

// MARK: - HTTPS to the node

/// `-ca-cert`, `-cert`, `-key`, `-insecure`: how a client program (discoctl) speaks HTTPS to a
/// node that serves its API with `-http-cert` (and checks client certificates with
/// `-http-verify-client`). In discoctl any of them makes an `-addr` without a scheme `https://`;
/// an `https://` address without them trusts the system's CAs.
public struct ClientTLSFlags: Sendable {
    public let caCert: Flag<String>
    public let cert: Flag<String>
    public let key: Flag<String>
    public let insecure: Flag<Bool>

    /// Declares the four flags in `set`.
    public init(_ set: inout FlagSet) {
        caCert = set.string("ca-cert", usage: "PEM file of the CA that signed the node's API certificate (its -http-cert);\n"
                                + "implies https://", typeName: "path")
        cert = set.string("cert", usage: "PEM certificate to present to a node started with -http-verify-client (with -key)",
                          typeName: "path")
        key = set.string("key", usage: "PEM private key of -cert", typeName: "path")
        insecure = set.bool("insecure", usage: "Speak HTTPS without verifying the node's certificate (testing only)")
    }

    /// The HTTPS settings the flags give (`nil`: none given). A certificate without its key, or
    /// a key without its certificate, is refused naming the missing one.
    public func resolve(caCert: String?, cert: String?, key: String?, insecure isInsecure: Bool) throws(FlagError) -> ClientTLSOptions? {
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
public struct ClientTLSOptions: Sendable, Equatable {
    public let caCert: String?
    public let cert: String?
    public let key: String?
    public let insecure: Bool

    public init(caCert: String?, cert: String?, key: String?, insecure: Bool) {
        self.caCert = caCert
        self.cert = cert
        self.key = key
        self.insecure = insecure
    }

    /// The client's TLS configuration, its errors labelled `label` (the program's name); files
    /// are read by ``makeClient(_:label:)``.
    public func configuration(label: String) -> TLSConfiguration {
        var tls = TLSConfiguration.client(trustRoots: caCert.map { .pem(.file($0)) } ?? .system, label: label)
        if let cert, let key {
            tls.certificateChain = .file(cert)
            tls.privateKey = .file(key)
        }
        tls.verifyPeer = !insecure
        return tls
    }

    /// An HTTP client that speaks HTTPS with these settings; a file that cannot be used is a
    /// usage error naming the flag and the file.
    public static func makeClient(_ options: ClientTLSOptions?, label: String) throws(FlagError) -> HTTPClient {
        guard let options else { return HTTPClient() }
        do {
            var configuration = HTTPClientConfiguration()
            configuration.httpsTransport = try TLSTransportFactory.client(options.configuration(label: label))
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
