import DiscoCore
import DiscoSystem
import Foundation

// MARK: - Global flags

/// The flags every command accepts, before or after the command name, as kubectl and etcdctl
/// read theirs: `discoctl -addr X status` and `discoctl status -addr X` are the same. A value
/// given after the command wins over one given before it.
///
/// Every command's flag set declares them too (under ``heading``), so its `-h` lists them and
/// its parser accepts them; the handles are the same in every set, as they go by name.
struct GlobalFlags: Sendable {
    static let heading = "Global flags (before or after the command)"
    static let userVariable = "DISCO_USER"
    static let passwordVariable = "DISCO_PASSWORD"

    let addr: Flag<PeerAddress>
    let timeout: Flag<Duration>
    let user: Flag<String>
    let password: Flag<String>
    let tls: ClientTLSFlags

    init(_ set: inout FlagSet) {
        (addr, timeout, user, password, tls) = set.grouped(Self.heading) { set in
            let addr = set.custom(
                "addr", default: PeerAddress(host: "localhost", port: 4001), defaultText: "\"localhost:4001\"",
                typeName: "host:port", usage: "Node to ask: its -http-addr, as host:port or http(s)://host:port"
            ) { text throws(FlagValueError) in
                do throws(PeerAddressError) {
                    return try PeerAddress(parsing: text)
                } catch {
                    throw FlagValueError("\(error)")
                }
            }
            let timeout = set.duration("timeout", default: .seconds(10),
                                       usage: "How long to wait for each answer (events -follow waits -wait longer)")
            let user = set.string("user", usage: "User name for HTTP basic auth on every request (or \(Self.userVariable))",
                                  typeName: "name")
            let password = set.string(
                "password", usage: "Password for -user (or \(Self.passwordVariable), which keeps it out of ps and shell history)",
                typeName: "password")
            return (addr, timeout, user, password, ClientTLSFlags(&set))
        }
    }

    /// The effective values: those given after the command, else before it, else (user and
    /// password) the environment, else the defaults.
    func resolve(before: ParsedFlags, after: ParsedFlags,
                 environment: (String) -> String? = ProcessEnvironment.value) throws(FlagError) -> GlobalOptions {
        func value<Value>(_ flag: Flag<Value>) -> Value? {
            after.isSet(flag) ? after[flag] : before.isSet(flag) ? before[flag] : nil
        }
        let credentials = try BasicCredentials.resolve(
            user: value(user) ?? environment(Self.userVariable).flatMap { $0.isEmpty ? nil : $0 },
            password: value(password).map { ($0, "-password") } ?? environment(Self.passwordVariable).map { ($0, Self.passwordVariable) })
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
        return GlobalOptions(node: node, timeout: value(timeout) ?? timeout.defaultValue, credentials: credentials, tls: tlsOptions)
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

// MARK: - Basic auth

/// A user name and password sent as `Authorization: Basic …` (RFC 7617) on every request.
struct BasicCredentials: Sendable, Equatable {
    let user: String
    let password: String

    /// The header value: `Basic base64(user:password)`.
    var authorization: String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }

    /// Credentials from a user and a password with where it came from (`-password` or the
    /// environment variable); `nil` when neither is given. A password without a user, a user
    /// without a password and a user with `:` are refused, naming what to give instead.
    static func resolve(user: String?, password: (value: String, source: String)?) throws(FlagError) -> BasicCredentials? {
        switch (user, password) {
        case (nil, nil):
            return nil
        case (nil, let password?):
            var message = "\(password.source) is given but no user: give -user NAME (or \(GlobalFlags.userVariable)) with it"
            if password.source == GlobalFlags.passwordVariable { message += ", or unset \(GlobalFlags.passwordVariable)" }
            throw FlagError.conflict("password", message)
        case (let user?, nil):
            throw FlagError.conflict("user", "-user \(user) needs a password: -password, or \(GlobalFlags.passwordVariable) "
                + "in the environment (which keeps it out of ps)")
        case (let user?, let password?):
            guard !user.isEmpty else {
                throw FlagError.invalid("user", "the user name is empty; give -user NAME or set \(GlobalFlags.userVariable)")
            }
            guard !user.contains(":") else {
                throw FlagError.invalid("user", "\(user.debugDescription) contains ':', which HTTP basic auth cannot carry in a user name")
            }
            return BasicCredentials(user: user, password: password.value)
        }
    }
}
