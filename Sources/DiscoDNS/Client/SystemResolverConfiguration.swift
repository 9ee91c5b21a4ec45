import CResolv
import DiscoNet
@preconcurrency import Glibc

// MARK: - SystemResolverConfiguration

/// The system's stub resolver configuration as glibc reads it (`/etc/resolv.conf`, with
/// `RES_OPTIONS` and `LOCALDOMAIN` applied): the name servers in order, the time per try, the
/// attempts, and the search list with `ndots`.
/// libresolv (`res_ninit`) only reads it; Disco's own client asks the servers.
public struct SystemResolverConfiguration: Sendable, Hashable {
    /// Name servers in resolv.conf order (glibc uses at most three; none configured means
    /// 127.0.0.1).
    public var servers: [SocketAddress]
    /// `options timeout:`: how long to wait for one server's answer.
    public var timeoutPerTry: Duration
    /// `options attempts:`: rounds over the whole server list.
    public var attempts: Int
    /// `search` (or `domain`): the domains tried after a name that is not fully qualified, in
    /// order (glibc keeps at most six).
    public var searchDomains: [String]
    /// `options ndots:`: a name with at least this many dots is tried as given before the
    /// search list, one with fewer after it.
    public var ndots: Int

    public init(servers: [SocketAddress], timeoutPerTry: Duration, attempts: Int, searchDomains: [String] = [], ndots: Int = 1) {
        self.servers = servers
        self.timeoutPerTry = timeoutPerTry
        self.attempts = attempts
        self.searchDomains = searchDomains
        self.ndots = ndots
    }

    /// Reads the configuration now (a small file read), or says why it cannot be read.
    public static func read() -> Result<SystemResolverConfiguration, SystemResolverConfigurationError> {
        var config = disco_res_config()
        disco_res_read_config(&config)
        guard config.init_failed == 0 else {
            return .failure(SystemResolverConfigurationError(reason: "res_ninit failed: \(String(cString: strerror(config.system_error)))"))
        }
        var servers: [SocketAddress] = []
        withUnsafeBytes(of: config.servers) { raw in
            for server in raw.bindMemory(to: disco_res_server.self).prefix(Int(config.server_count)) {
                let host = withUnsafeBytes(of: server.host) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if let address = SocketAddress(numericHost: host, port: server.port) { servers.append(address) }
            }
        }
        guard !servers.isEmpty else {
            return .failure(SystemResolverConfigurationError(reason: "the resolver configuration names no usable name server"))
        }
        var search: [String] = []
        withUnsafeBytes(of: config.search) { raw in
            let length = Int(DISCO_RES_SEARCH_LENGTH)
            for index in 0..<min(Int(config.search_count), Int(DISCO_RES_MAX_SEARCH)) {
                let slot = raw[(index * length)..<((index + 1) * length)]
                let domain = String(decoding: slot.prefix { $0 != 0 }, as: UTF8.self)
                if !domain.isEmpty { search.append(domain) }
            }
        }
        return .success(SystemResolverConfiguration(servers: servers, timeoutPerTry: .seconds(max(1, Int(config.timeout_seconds))),
                                                    attempts: max(1, Int(config.attempts)), searchDomains: search,
                                                    ndots: max(0, Int(config.ndots))))
    }
}

/// Why the system resolver configuration could not be read.
public struct SystemResolverConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { "cannot read the system resolver configuration: \(reason)" }
}
