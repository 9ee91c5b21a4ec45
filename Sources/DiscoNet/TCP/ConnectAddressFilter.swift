// MARK: - Addresses a connection must not go to

/// Addresses a client must not connect to
/// (``TCPConnection/connect(host:port:timeout:group:transport:excluding:)``,
/// ``HTTPClientConfiguration/addressFilter``): a proxy leaves out the addresses its own listener
/// accepts, so that an upstream whose name comes to resolve to the proxy does not pass each
/// connection back to it, hop after hop.
///
/// Asked only when a new connection is opened (once per address the host resolves to), never
/// for a request on a pooled connection.
public protocol ConnectAddressFilter: Sendable {
    /// Whether the client must not connect to `address`.
    func excludes(_ address: SocketAddress) -> Bool

    /// Why `excluded` (every address a host resolved to) were left out, for the error:
    /// e.g. "which the proxy's own listener (127.0.0.1:8080) accepts".
    func reason(excluding excluded: [SocketAddress]) -> String
}
