import DiscoCore
import DiscoNet
import Sidecar
import Synchronization

// MARK: - Seeing through names and wildcard addresses

extension SelfConnectionCheck {
    /// Resolves the listener's and the upstream's hosts with `resolve` (the proxy's own resolver,
    /// ``SocketAddress/resolve(host:port:)``, by default: the one it connects with) and finds an
    /// upstream address that reaches the listener: the same address, or, for a listener on
    /// every interface, a loopback address or one of `interfaces` (this machine's, by default),
    /// IPv4 and IPv6 for `[::]` and `:PORT` (bound dual-stack), IPv4 only for `0.0.0.0`. A host
    /// that does not resolve now is passed over: the upstream may come later. Resolving blocks;
    /// each host is resolved once (a name that times out costs its timeout once), at the start.
    public static func resolving(
        resolve: @escaping @Sendable (_ host: String, _ port: UInt16) -> [SocketAddress]? = { try? SocketAddress.resolve(host: $0, port: $1) },
        interfaces: [SocketAddress] = SocketAddress.interfaceAddresses()
    ) -> SelfConnectionCheck {
        let resolved = ResolvedHosts(resolve)
        return SelfConnectionCheck { listen, upstream, bindsEveryAddress in
            guard listen.port != 0, listen.port == upstream.port else { return nil }
            // A listener binds the first address of its host that binds (`[::]` first for every
            // interface, `0.0.0.0` only where IPv6 is off); the HTTP server binds every one.
            guard let listening = resolved[listen.host, listen.port], let first = listening.first,
                  let targets = resolved[upstream.host, upstream.port]
            else { return nil }
            let bound = listen.listensOnEveryInterface || !bindsEveryAddress ? [first] : listening
            let reached = targets.first { target in bound.contains { target.reaches(listener: $0, local: interfaces) } }
            return reached?.description
        }
    }
}

/// What each host resolved to, asked once: the check compares every listener with every upstream.
private final class ResolvedHosts: Sendable {
    private struct Key: Hashable {
        let host: String
        let port: UInt16
    }

    private let resolve: @Sendable (String, UInt16) -> [SocketAddress]?
    private let answers = Mutex<[Key: [SocketAddress]?]>([:])

    init(_ resolve: @escaping @Sendable (String, UInt16) -> [SocketAddress]?) {
        self.resolve = resolve
    }

    subscript(host: String, port: UInt16) -> [SocketAddress]? {
        let key = Key(host: host, port: port)
        if let known = answers.withLock({ $0[key] }) { return known }
        let answer = resolve(host, port)
        answers.withLock { $0[key] = answer }
        return answer
    }
}
