import DiscoCore

// MARK: - What the proxy takes from the node

extension ProxyConfiguration {
    /// The node's TLS files the proxy falls back to: without `-proxy-cert`/`-proxy-key` the
    /// proxy presents the API's certificate (`-http-cert`/`-http-key`), and without
    /// `-proxy-ca-cert` it verifies the writer's proxy against `-http-ca-cert` (the CAs the node
    /// already trusts for the other nodes' HTTPS APIs), else the system's CAs.
    public mutating func applyNodeTLSDefaults(httpCertificate: String?, httpKey: String?, httpCACertificate: String?) {
        if tls == nil, let httpCertificate, let httpKey {
            tls = ProxyTLSFiles(certificate: httpCertificate, key: httpKey, flagPrefix: "http")
        }
        if peerTLS.caCertificate == nil, let httpCACertificate {
            peerTLS.caCertificate = httpCACertificate
            peerTLS.caFlag = "http-ca-cert"
        }
    }

    /// What this sidecar announces to the others once its proxy listens on `boundPort`:
    /// `-proxy-adv-addr` when given; else the listening address, with `apiHost` (the node's
    /// advertised API host) in place of an every-interface host (`:8080`, `0.0.0.0`, `::`). The
    /// scheme is HTTPS when the proxy terminates TLS. Nil without an HTTP proxy.
    public func announcement(boundPort: UInt16, apiHost: String) -> ProxyAnnouncement? {
        guard let listenAddress else { return nil }
        if let advertisedAddress { return ProxyAnnouncement(address: advertisedAddress, tls: tls != nil) }
        let host = Self.isEveryInterface(listenAddress.host) ? apiHost : listenAddress.host
        return ProxyAnnouncement(address: PeerAddress(host: host, port: boundPort), tls: tls != nil)
    }

    /// Hosts that mean "every interface" when listening, and so cannot be announced.
    static func isEveryInterface(_ host: String) -> Bool {
        PeerAddress.isEveryInterfaceHost(host)
    }
}
