import DiscoCore

// MARK: - Listeners that would take the same port

extension SidecarFlags {
    /// Checks that no two of the proxy's listeners (`-proxy-addr`, each `-tcp-proxy` and each
    /// `tcp_proxy` of `-proxy-config`), and no proxy listener and one of `nodeListeners` (the
    /// node's `-http-addr`, `-raft-addr`, ...), would listen on the same port, so the clash is a
    /// command-line error naming both flags instead of a bind failure once the node has started.
    /// Port 0 never clashes: the system picks a free port for each.
    public func checkListeners(_ configuration: ProxyConfiguration, parsed: ParsedFlags,
                               nodeListeners: [(flag: String, address: PeerAddress)]) throws(FlagError) {
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
        // An upstream the proxy itself listens on: each request would be passed to the proxy
        // again, hop after hop, each hop holding a connection, until the head outgrew its limit.
        if let listen = configuration.listenAddress {
            for upstream in configuration.upstreams where TCPProxySpec.connectsToItself(listen: listen, upstream: upstream.address) {
                let fromFlag = upstream.name == UpstreamDefinition.flagName
                let source = fromFlag ? "-upstream" : "-proxy-config upstream \"\(upstream.name)\""
                throw FlagError.conflict(fromFlag ? "upstream" : "proxy-config",
                                         "\(source) \(upstream.address) is an address -proxy-addr \(listen) listens on itself: "
                                            + "requests would be passed to the proxy again and again; give the service's own address")
            }
        }
    }
}
