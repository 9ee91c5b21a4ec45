import DiscoCore

// MARK: - Listeners that would take the same port

extension SidecarFlags {
    /// Checks that no two of the proxy's listeners (`-proxy-addr`, each `-tcp-proxy` and each
    /// `tcp_proxy` of `-proxy-config`), and no proxy listener and one of `nodeListeners` (the
    /// node's `-http-addr`, `-raft-addr`, ...), would listen on the same port, so the clash is a
    /// command-line error naming both flags instead of a bind failure once the node has started.
    /// Port 0 never clashes: the system picks a free port for each. Then, that no listener
    /// passes its connections to itself, nor round a cycle of listeners back to itself, as
    /// `selfConnections` sees the addresses.
    public func checkListeners(_ configuration: ProxyConfiguration, parsed: ParsedFlags,
                               nodeListeners: [(flag: String, address: PeerAddress)],
                               selfConnections: SelfConnectionCheck = .literal) throws(FlagError) {
        let fromFlags = parsed[tcpProxy].count
        var proxyListeners: [(flag: String, written: String, address: PeerAddress)] = []
        if let listen = configuration.listenAddress { proxyListeners.append(("proxy-addr", "-proxy-addr \(listen)", listen)) }
        for (index, spec) in configuration.tcpProxies.enumerated() {
            proxyListeners.append(index < fromFlags
                ? ("tcp-proxy", "-tcp-proxy \(spec.listen)", spec.listen)
                : ("proxy-config", "-proxy-config tcp_proxy[\(index - fromFlags)] \(spec.listen)", spec.listen))
        }
        for (position, listener) in proxyListeners.enumerated() {
            let others = nodeListeners.map { ("-\($0.flag) \($0.address)", $0.address) }
                + proxyListeners[..<position].map { ($0.written, $0.address) }
            if let (written, _) = others.first(where: { $0.1.listensOnSamePort(as: listener.address) }) {
                throw FlagError.conflict(listener.flag, "\(written) and \(listener.written) would both listen on port "
                    + "\(listener.address.port); give them different ports")
            }
        }
        try Self.checkSelfConnections(configuration, tcpFromFlags: fromFlags, check: selfConnections)
    }

    // MARK: Listeners that would connect to themselves

    /// An upstream the proxy itself listens on: each request would be passed to the proxy again,
    /// hop after hop, each hop holding a connection, until the head outgrew its limit; a TCP
    /// listener's connections would each open another until descriptors ran out. So would
    /// listeners passing connections round to each other.
    static func checkSelfConnections(_ configuration: ProxyConfiguration, tcpFromFlags: Int, check: SelfConnectionCheck) throws(FlagError) {
        var hops: [ProxyHop] = []
        if let listen = configuration.listenAddress {
            hops.append(ProxyHop(flag: "proxy-addr", written: "-proxy-addr \(listen)", listen: listen, bindsEveryAddress: true,
                                 upstreams: configuration.upstreams.map { upstream in
                                     upstream.name == UpstreamDefinition.flagName
                                         ? ("-upstream \(upstream.address)", "upstream", upstream.address)
                                         : ("-proxy-config upstream \"\(upstream.name)\" \(upstream.address)", "proxy-config", upstream.address)
                                 }))
        }
        for (index, spec) in configuration.tcpProxies.enumerated() {
            let (flag, written) = index < tcpFromFlags
                ? ("tcp-proxy", "-tcp-proxy \(spec)")
                : ("proxy-config", "-proxy-config tcp_proxy[\(index - tcpFromFlags)] \(spec)")
            hops.append(ProxyHop(flag: flag, written: written, listen: spec.listen, bindsEveryAddress: false,
                                 upstreams: [(written, flag, spec.upstream)]))
        }
        for hop in hops {
            for upstream in hop.upstreams {
                guard let reached = check.reach(hop.listen, upstream.address, hop.bindsEveryAddress) else { continue }
                let resolved = reached == upstream.address.description ? "" : " (\(upstream.address) is \(reached))"
                if hop.flag == "proxy-addr" {
                    throw FlagError.conflict(upstream.flag, "\(upstream.written) is an address \(hop.written) listens on itself\(resolved): "
                        + "requests would be passed to the proxy again and again; give the service's own address")
                }
                throw FlagError.conflict(hop.flag, "\(hop.written) would connect to itself: its upstream\(resolved) is an address the "
                    + "listener \(hop.listen.listenDescription) accepts, so every connection would open another to it until descriptors "
                    + "run out; listen on another address (in a pod, its own, e.g. $(POD_IP):\(hop.listen.port)) or another port")
            }
        }
        if let cycle = check.cycle(in: hops) {
            let first = hops[cycle[0]]
            throw FlagError.conflict(first.flag, cycle.map { hops[$0].written }.joined(separator: " -> ")
                + ": each passes connections to the next, so they would go round for ever, each round holding more connections "
                + "until descriptors run out; point one of them at the service's own address")
        }
    }
}
