import DiscoCore

// MARK: - Connecting to a host name

extension TCPConnection {
    /// Resolves `host` and connects to its addresses in order until one answers, leaving out
    /// those `excluding` names (a listener's own addresses, so that a name that comes to resolve
    /// to it does not connect it to itself); when it leaves out every one, throws
    /// ``NetworkError/Code/excludedAddress``, its detail `excluding`'s `reason` for them.
    ///
    /// `timeout` bounds the whole of it: the lookup (``SocketAddress/resolveAsync(host:port:timeout:)``,
    /// one `getaddrinfo` per name at a time across the process; a lookup that does not answer in
    /// time throws ``AddressResolutionError`` with kind `.timedOut`) and then the connects, each
    /// address given an equal share of what is left (at least 2 s of it, as Go's dialer does),
    /// so an address that does not answer leaves time for the next.
    public static func connect(
        host: String, port: UInt16, timeout: Duration = .seconds(5), group: EventLoopGroup? = nil,
        transport factory: any ByteStreamTransportFactory = PlainTransportFactory(),
        excluding: (any ConnectAddressFilter)? = nil
    ) async throws -> TCPConnection {
        try await connect(host: host, port: port, timeout: timeout, group: group, transport: factory, excluding: excluding,
                          lookups: .system)
    }

    /// ``connect(host:port:timeout:group:transport:excluding:)``, looking `host` up through `lookups`.
    static func connect(
        host: String, port: UInt16, timeout: Duration, group: EventLoopGroup?, transport factory: any ByteStreamTransportFactory,
        excluding: (any ConnectAddressFilter)?, lookups: HostLookups
    ) async throws -> TCPConnection {
        let deadline = ContinuousClock.now + timeout
        let resolved: [SocketAddress]
        do {
            resolved = try await SocketAddress.resolveAsync(host: host, port: port, timeout: timeout, lookups: lookups)
        } catch is CancellationError {
            throw NetworkError(.cancelled, peer: "\(host):\(port)", detail: "while looking the host up")
        }
        let addresses = excluding.map { filter in resolved.filter { !filter.excludes($0) } } ?? resolved
        if let excluding, addresses.isEmpty, !resolved.isEmpty {
            throw NetworkError(.excludedAddress, peer: "\(host):\(port)",
                               detail: "\(host) resolves to \(resolved.map(\.description).joined(separator: ", ")), "
                                   + excluding.reason(excluding: resolved))
        }
        var lastError: (any Error)?
        for (index, address) in addresses.enumerated() {
            let remaining = deadline - .now
            guard remaining > .zero else {
                if let lastError { throw lastError }
                throw NetworkError(.connectTimeout, peer: "\(host):\(port)",
                                   detail: "looking the host up took the whole connect timeout (\(GoDuration.format(timeout)))")
            }
            do {
                return try await connect(to: address, timeout: share(of: remaining, among: addresses.count - index),
                                         group: group, transport: factory, serverName: host)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? NetworkError(.connectFailed, peer: "\(host):\(port)", detail: "no addresses")
    }

    /// The time one of `count` addresses left gets out of `remaining`: an equal share, but at
    /// least 2 s (or all of `remaining`, when less), so a short timeout is not split too thin.
    static func share(of remaining: Duration, among count: Int) -> Duration {
        let floor = min(remaining, .seconds(2))
        return max(remaining / max(count, 1), floor)
    }
}
