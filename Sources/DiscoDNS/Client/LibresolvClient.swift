import DiscoNet

// MARK: - LibresolvClient

/// Asks the name servers of the system's resolver configuration (read once, through libresolv:
/// `/etc/resolv.conf` with `RES_OPTIONS`), with Disco's own UDP/TCP client and codec. Used for
/// SRV when no `nameserver` is configured.
///
/// Like glibc it tries each server in order, for `attempts` rounds, `timeout` per try; a server
/// that answers SERVFAIL, REFUSED or NOTIMP is passed over for the next one (its answer is
/// returned when no server does better), and so is one that times out, refuses the connection
/// or sends only replies that cannot be read. Each question is sent as given; the configuration's
/// search list and `ndots` are in ``searchDomains`` and ``ndots`` for callers that expand a
/// name that is not fully qualified (``DNSSearchList``).
public struct LibresolvClient: DNSQuerying {
    /// An IPv4 server that replaces the configured list; tests use it to aim the system path at
    /// a local dnsmasq.
    public struct Override: Sendable, Hashable {
        public var ipv4: String
        public var port: UInt16
        public init(ipv4: String, port: UInt16) {
            self.ipv4 = ipv4
            self.port = port
        }
    }

    private let servers: Result<[NameserverClient], DNSLookupError>
    private let attempts: Int
    public let serverDescription: String
    /// The configuration's search list (empty when it could not be read).
    public let searchDomains: [String]
    /// The configuration's `ndots` (1 when it could not be read).
    public let ndots: Int

    /// Reads the system configuration now (a small file read) and asks its servers.
    ///
    /// - Parameters:
    ///   - timeoutPerTry: 0 keeps resolv.conf's `timeout`.
    ///   - tries: rounds over the servers; 0 keeps resolv.conf's `attempts`.
    ///   - override: one IPv4 server instead of the configured ones.
    ///   - options: EDNS and query IDs (its timeout and tries are replaced by the above).
    public init(timeoutPerTry: Duration = .zero, tries: Int = 0, override: Override? = nil, options: DNSClientOptions = DNSClientOptions(),
                group: EventLoopGroup? = nil) {
        var configuration = SystemResolverConfiguration.read()
        if let override {
            configuration = configuration.flatMap { read in
                guard let address = SocketAddress(numericHost: override.ipv4, port: override.port) else {
                    return .failure(SystemResolverConfigurationError(reason: "\(override.ipv4.debugDescription) is not an IPv4 address"))
                }
                return .success(SystemResolverConfiguration(servers: [address], timeoutPerTry: read.timeoutPerTry, attempts: read.attempts,
                                                            searchDomains: read.searchDomains, ndots: read.ndots))
            }
        }
        configuration = configuration.map { read in
            SystemResolverConfiguration(servers: read.servers, timeoutPerTry: timeoutPerTry > .zero ? timeoutPerTry : read.timeoutPerTry,
                                        attempts: tries > 0 ? tries : read.attempts, searchDomains: read.searchDomains, ndots: read.ndots)
        }
        self.init(configuration: configuration, options: options, group: group)
    }

    /// Asks the servers of `configuration` (or reports why there is none), with libresolv's
    /// order, timeout and attempts.
    public init(configuration: Result<SystemResolverConfiguration, SystemResolverConfigurationError>,
                options: DNSClientOptions = DNSClientOptions(), group: EventLoopGroup? = nil) {
        let description = switch configuration {
        case .success(let read): "system resolver (libresolv) at \(read.servers.map(\.description).joined(separator: ", "))"
        case .failure: "system resolver (libresolv)"
        }
        serverDescription = description
        attempts = (try? configuration.get().attempts) ?? 1
        searchDomains = (try? configuration.get().searchDomains) ?? []
        ndots = (try? configuration.get().ndots) ?? 1
        servers = configuration
            .map { read in
                var perServer = options
                perServer.tries = 1
                perServer.timeoutPerTry = read.timeoutPerTry
                return read.servers.map { NameserverClient(address: $0, options: perServer, group: group) }
            }
            .mapError { DNSLookupError(.systemFailure, server: description, question: "", detail: $0.description) }
    }

    public func exchange(_ question: DNSQuestion) async throws(DNSLookupError) -> DNSMessage {
        func failure(_ code: DNSLookupError.Code, _ detail: String) -> DNSLookupError {
            DNSLookupError(code, server: serverDescription, question: question.description, detail: detail)
        }
        let clients: [NameserverClient]
        switch servers {
        case .success(let list): clients = list
        case .failure(let error): throw failure(.systemFailure, error.detail)
        }
        var fallback: DNSMessage?
        var errors: [DNSLookupError] = []
        for _ in 0..<max(1, attempts) {
            for client in clients {
                do throws(DNSLookupError) {
                    let answer = try await client.exchange(question)
                    switch answer.header.responseCode {
                    case .serverFailure, .refused, .notImplemented:
                        fallback = fallback ?? answer  // another server may do better
                    default:
                        return answer
                    }
                } catch where error.code == .timeout || error.code == .connectionRefused || error.code == .malformedAnswer {
                    errors.append(error)  // as glibc: a server that gave no usable answer is passed over
                } catch {
                    throw failure(error.code, "\(error.server): \(error.detail)")
                }
            }
            if let fallback { return fallback }
        }
        if !errors.isEmpty, errors.allSatisfy({ $0.code == .connectionRefused }) {
            throw failure(.connectionRefused, "every configured server refused the connection")
        }
        if let malformed = errors.last(where: { $0.code == .malformedAnswer }) {
            throw failure(.malformedAnswer, "no server gave a valid answer; \(malformed.server): \(malformed.detail)")
        }
        throw failure(.timeout, "no server answered (\(max(1, attempts)) rounds over \(clients.count) server\(clients.count == 1 ? "" : "s"))")
    }
}
