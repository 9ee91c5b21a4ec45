// MARK: - Opening a connection, leaving out excluded addresses

/// Addresses an ``HTTPClient`` must not connect to (``HTTPClientConfiguration/addressFilter``):
/// a proxy leaves out the addresses its own listener accepts, so that an upstream whose name
/// comes to resolve to the proxy does not pass each request back to it, hop after hop.
///
/// Asked only when a new connection is opened (once per address the host resolves to), never
/// for a request on a pooled connection.
public protocol HTTPConnectAddressFilter: Sendable {
    /// Whether the client must not connect to `address`.
    func excludes(_ address: SocketAddress) -> Bool

    /// Why `excluded` (every address a host resolved to) were left out, for the error:
    /// e.g. "which the proxy's own listener (127.0.0.1:8080) accepts".
    func reason(excluding excluded: [SocketAddress]) -> String
}

extension HTTPClient {
    /// A new connection to `url`'s host: its addresses in order until one answers, without
    /// those the ``HTTPClientConfiguration/addressFilter`` excludes (none excluded, it is
    /// ``TCPConnection/connect(host:port:timeout:group:transport:)`` as before).
    func openConnection(to url: HTTPURL) async throws -> TCPConnection {
        let transport = configuration.transport(for: url)
        guard let filter = configuration.addressFilter else {
            return try await TCPConnection.connect(host: url.host, port: url.port, timeout: configuration.connectTimeout, group: group,
                                                   transport: transport)
        }
        let resolved = try await SocketAddress.resolveAsync(host: url.host, port: url.port)
        let addresses = resolved.filter { !filter.excludes($0) }
        if addresses.isEmpty, !resolved.isEmpty {
            throw HTTPClientError(.excludedAddress, host: url.authority,
                                  detail: "\(url.host) resolves to \(resolved.map(\.description).joined(separator: ", ")), "
                                      + filter.reason(excluding: resolved))
        }
        var lastError: (any Error)?
        for address in addresses {
            do {
                return try await TCPConnection.connect(to: address, timeout: configuration.connectTimeout, group: group,
                                                       transport: transport, serverName: url.host)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? NetworkError(.connectFailed, peer: url.authority, detail: "no addresses")
    }
}
