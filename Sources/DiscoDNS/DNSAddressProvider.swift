import DiscoCore

// MARK: - DNSAddressProvider

/// `-disco-mode dns`: every A and AAAA address of one name, each with the same port.
///
/// Results are `ip:port` addresses (IPv6 bracketed when printed), sorted and de-duplicated.
/// CNAMEs are followed. Errors say which server, which record and what went wrong.
public struct DNSAddressProvider: AddressProvider {
    /// The name looked up.
    public let hostName: DNSName
    /// The port given to every address found.
    public let port: UInt16
    private let resolver: any HostAddressResolving

    /// Builds the provider from disco-config.
    ///
    /// - Parameters:
    ///   - defaultPort: used when the config has no `port` (the node's own HTTP port).
    ///   - options: timeouts and retries for a configured `nameserver`.
    ///   - systemTimeout: overall limit for the system resolver when there is no `nameserver`.
    public init(
        config: DNSConfig, defaultPort: UInt16, options: DNSClientOptions = DNSClientOptions(),
        systemTimeout: Duration = .seconds(10)
    ) throws(DNSConfigurationError) {
        let name: DNSName
        do {
            name = try DNSName(parsing: config.name)
        } catch {
            throw DNSConfigurationError(field: "name", reason: error.detail)
        }
        guard !name.isRoot else { throw DNSConfigurationError(field: "name", reason: "the root name has no addresses; give a host name such as rqlite.local") }
        let port = config.port ?? defaultPort
        guard port != 0 else { throw DNSConfigurationError(field: "port", reason: "0 is not a usable port; give 1 to 65535") }
        let resolver: any HostAddressResolving
        if let nameserver = config.nameserver {
            let client = try NameserverClient(nameserver: nameserver.description, options: options)
            resolver = DNSResolver(querier: options.cacheByTTL ? DNSCache(wrapping: client) : client)
        } else {
            resolver = SystemAddressResolver(timeout: systemTimeout)
        }
        self.init(hostName: name, port: port, resolver: resolver)
    }

    /// Builds the provider on any resolver (tests, or a shared client).
    public init(hostName: DNSName, port: UInt16, resolver: any HostAddressResolving) {
        self.hostName = hostName
        self.port = port
        self.resolver = resolver
    }

    public var name: String { "dns \(hostName) port \(port) via \(resolver.serverDescription)" }

    public func lookup() async throws -> [PeerAddress] {
        try await lookupAddresses()
    }

    /// ``lookup()`` with its error type spelled out.
    public func lookupAddresses() async throws(DNSLookupError) -> [PeerAddress] {
        let addresses = try await resolver.addresses(of: hostName)
        return Set(addresses.map { PeerAddress(host: $0.description, port: port) }).sorted()
    }
}
