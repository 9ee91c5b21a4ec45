import DiscoCore

// MARK: - Checking a configuration without using it

extension Discovery {
    /// Builds every backend `config` names the way a running node builds them (resolver clients,
    /// Consul and etcd clients, a Consul token file read), and sends nothing. Throws the error a
    /// node would otherwise meet only at its first lookup, such as a nameserver given as a host
    /// name or a TLS file that cannot be read. `transport` is only asked for its TLS variant
    /// (which loads the files); nothing is sent through it.
    public static func checkBackends(config: DiscoConfig, discoKey: String, defaultPort: UInt16,
                                     transport: any HTTPExchanging = UnusedTransport()) throws {
        let discovery = Discovery(config: config, discoKey: discoKey, defaultPort: defaultPort, transport: transport)
        _ = try discovery.addressProvider()
        _ = try discovery.leaderRegistry()
    }
}

/// The transport of a checked configuration: building backends never sends, so any exchange is
/// a mistake in the caller and says so instead of reaching the network.
public struct UnusedTransport: HTTPExchanging {
    public init() {}

    public func exchange(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPExchangeResponse {
        throw DiscoveryConfigurationError(field: "transport", reason: "a checked configuration sends no requests (\(request.method) \(request.url))")
    }
}
