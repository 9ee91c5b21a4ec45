import DiscoAuth
import DiscoCLI
import DiscoCore
import DiscoSystem

// MARK: - Global flags

/// The flags every command accepts, before or after the command name, as kubectl and etcdctl
/// read theirs: `discoctl -addr X status` and `discoctl status -addr X` are the same. A value
/// given after the command wins over one given before it.
///
/// Every command's flag set declares them too (under ``heading``), so its `-h` lists them and
/// its parser accepts them; the handles are the same in every set, as they go by name.
struct GlobalFlags: Sendable {
    static let heading = "Global flags (before or after the command)"

    let addr: Flag<PeerAddress>
    let timeout: Flag<Duration>
    let credentials: ClientCredentialFlags
    let tls: ClientTLSFlags

    init(_ set: inout FlagSet) {
        (addr, timeout, credentials, tls) = set.grouped(Self.heading) { set in
            let addr = set.custom(
                "addr", default: PeerAddress(host: "localhost", port: 4001), defaultText: "\"localhost:4001\"",
                typeName: "host:port", usage: "Node to ask: its -http-addr, as host:port or http(s)://host:port",
                parse: AddressFlagValue.parse)
            let timeout = set.duration("timeout", default: .seconds(10),
                                       usage: "How long to wait for each answer, or a whole lookup (events -follow: -wait longer)")
            return (addr, timeout, ClientCredentialFlags(&set), ClientTLSFlags(&set))
        }
    }

    /// The effective values: those given after the command, else before it, else (user and
    /// password) the environment, else the defaults.
    func resolve(before: ParsedFlags, after: ParsedFlags,
                 environment: (String) -> String? = ProcessEnvironment.value) throws(FlagError) -> GlobalOptions {
        func value<Value>(_ flag: Flag<Value>) -> Value? {
            after.isSet(flag) ? after[flag] : before.isSet(flag) ? before[flag] : nil
        }
        let basicAuth = try credentials.resolve(user: value(credentials.user), password: value(credentials.password),
                                                environment: environment)
        let tlsOptions = try tls.resolve(caCert: value(tls.caCert), cert: value(tls.cert), key: value(tls.key),
                                         insecure: value(tls.insecure) ?? false)
        var node = value(addr) ?? addr.defaultValue
        if tlsOptions != nil {
            guard node.scheme != .http else {
                throw FlagError.conflict("addr", "-addr names http:// but HTTPS flags are given (-ca-cert, -cert, -key, -insecure): "
                    + "write https://\(node.withoutScheme) or drop them")
            }
            node = PeerAddress(host: node.host, port: node.port, scheme: .https)
        }
        let wait = value(timeout) ?? timeout.defaultValue
        guard wait > .zero else {
            throw FlagError(code: .invalidValue, flag: "timeout", message: "-timeout must be more than 0s, e.g. 10s (got \(GoDuration.format(wait)))")
        }
        return GlobalOptions(node: node, timeout: wait, credentials: basicAuth, tls: tlsOptions)
    }
}

/// What the global flags say, once resolved.
struct GlobalOptions: Sendable {
    let node: PeerAddress
    let timeout: Duration
    /// `nil` without `-user`.
    let credentials: BasicCredentials?
    /// `nil` without HTTPS flags (an `https://` address then trusts the system's CAs).
    let tls: ClientTLSOptions?
}
