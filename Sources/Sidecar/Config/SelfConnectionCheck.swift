import DiscoCore

// MARK: - Whether an upstream is one of the proxy's own listeners

/// How the start tells whether a connection to an upstream would reach one of the proxy's own
/// listeners (``SidecarFlags/checkListeners(_:parsed:nodeListeners:selfConnections:)``).
/// ``literal`` compares the addresses as written (``TCPProxySpec/connectsToItself(listen:upstream:)``);
/// `disco-sidecar` uses SidecarProxy's `SelfConnectionCheck.resolving`, which resolves the
/// upstream's host as the proxy will to connect and knows this machine's interface addresses,
/// so `localhost`, `127.1`, the pod's own name or address are seen too.
public struct SelfConnectionCheck: Sendable {
    /// The address a connection to `upstream` would go to that a listener on `listen` accepts
    /// (`127.0.0.1:27017` for `localhost:27017` and a listener on `:27017`), or nil when it
    /// would reach no such listener (or its host does not resolve now: the upstream may come
    /// later). `bindsEveryAddress`: the listener binds every address its host resolves to (the
    /// HTTP proxy) rather than the first one that binds (a TCP listener).
    public let reach: @Sendable (_ listen: PeerAddress, _ upstream: PeerAddress, _ bindsEveryAddress: Bool) -> String?

    public init(reach: @escaping @Sendable (_ listen: PeerAddress, _ upstream: PeerAddress, _ bindsEveryAddress: Bool) -> String?) {
        self.reach = reach
    }

    /// Compares the addresses as written: the same port, and the same host, or a loopback host
    /// while the listener is on every interface.
    public static let literal = SelfConnectionCheck { listen, upstream, _ in
        TCPProxySpec.connectsToItself(listen: listen, upstream: upstream) ? upstream.description : nil
    }
}

// MARK: - Listeners passing connections round

/// One of the proxy's listeners and where it passes its connections: the HTTP proxy
/// (`-proxy-addr`, to each upstream) or a TCP listener (to its one upstream).
struct ProxyHop {
    /// The flag an error names.
    let flag: String
    /// How the listener was written, e.g. `-tcp-proxy :27017=127.0.0.1:27017`.
    let written: String
    let listen: PeerAddress
    /// The HTTP server binds every address of its host; a TCP listener the first that binds.
    let bindsEveryAddress: Bool
    /// Each upstream: how it was written, the flag naming it, its address.
    let upstreams: [(written: String, flag: String, address: PeerAddress)]
}

extension SelfConnectionCheck {
    /// The first cycle of two or more listeners each passing connections to the next (a
    /// listener reaching itself is found before this), as indexes into `hops`, the first repeated
    /// at the end; nil when there is none.
    func cycle(in hops: [ProxyHop]) -> [Int]? {
        let next: [[Int]] = hops.map { hop in
            hops.indices.filter { target in
                hop.upstreams.contains { reach(hops[target].listen, $0.address, hops[target].bindsEveryAddress) != nil }
            }
        }
        enum Mark { case unseen, onPath, done }
        var marks = [Mark](repeating: .unseen, count: hops.count)
        var path: [Int] = []
        func visit(_ node: Int) -> [Int]? {
            marks[node] = .onPath
            path.append(node)
            for target in next[node] where target != node {
                switch marks[target] {
                case .onPath:
                    guard let start = path.firstIndex(of: target) else { continue }
                    return Array(path[start...]) + [target]
                case .unseen:
                    if let found = visit(target) { return found }
                case .done:
                    continue
                }
            }
            path.removeLast()
            marks[node] = .done
            return nil
        }
        for start in hops.indices where marks[start] == .unseen {
            if let found = visit(start) { return found }
        }
        return nil
    }
}
