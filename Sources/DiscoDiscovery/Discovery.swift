import DiscoConsul
import DiscoCore
import DiscoDNS
import DiscoEtcd
import DiscoSRV
import Foundation

// MARK: - Discovery

/// Builds the discovery backends a validated disco-config names: an ``AddressProvider`` for
/// every mode, and a ``LeaderRegistry`` for the KV modes. `discod` and `discoctl` both start here.
public struct Discovery: Sendable {
    /// The mode's configuration.
    public let config: DiscoConfig
    /// The `-disco-key` (KV modes).
    public let discoKey: String
    /// Port given to A/AAAA answers when the config has none (the node's own HTTP port).
    public let defaultPort: UInt16
    /// How KV modes speak HTTP.
    public let transport: any HTTPExchanging
    /// TTL of the KV leader record's session or lease.
    public let recordTTL: Duration
    /// Timeouts, retries, EDNS and caching of the dns and dns-srv modes' queries.
    public var dnsOptions: DNSClientOptions
    /// How long the system resolver (`getaddrinfo`, used without a `nameserver`) may take.
    public var systemResolverTimeout: Duration = .seconds(10)

    /// - Parameter cacheDNSAnswers: keep DNS answers for their TTL (``DNSCache``); worth it for a
    ///   provider that lives across lookup rounds.
    public init(config: DiscoConfig, discoKey: String, defaultPort: UInt16, transport: any HTTPExchanging,
                recordTTL: Duration = .seconds(10), cacheDNSAnswers: Bool = false) {
        self.config = config
        self.discoKey = discoKey
        self.defaultPort = defaultPort
        self.transport = transport
        self.recordTTL = recordTTL
        dnsOptions = DNSClientOptions()
        dnsOptions.cacheByTTL = cacheDNSAnswers
    }

    /// Where peers are found. For KV modes this is the leader record's API address.
    public func addressProvider() throws -> any AddressProvider {
        switch config {
        case .dns(let dns):
            return try DNSAddressProvider(config: dns, defaultPort: defaultPort, options: dnsOptions,
                                          systemTimeout: systemResolverTimeout)
        case .dnsSRV(let srv):
            return try SRVAddressProvider(config: srv, options: dnsOptions, systemTimeout: systemResolverTimeout)
        case .consulKV, .etcdKV:
            guard let registry = try leaderRegistry() else { preconditionFailure("KV modes always have a registry") }
            return LeaderRecordAddressProvider(registry: registry)
        }
    }

    /// The leader record's store, or `nil` for DNS modes.
    public func leaderRegistry() throws -> (any LeaderRegistry)? {
        switch config {
        case .dns, .dnsSRV:
            return nil
        case .consulKV(let consul):
            let exchanger = try consul.clientTLS.map { settings in
                do {
                    return try Self.tlsTransport(transport, settings, field: "tls_config")
                } catch let error as DiscoveryConfigurationError {
                    // The files may have come from Consul's environment variables instead.
                    throw DiscoveryConfigurationError(field: error.field, reason: error.reason + " (set in tls_config or by CONSUL_CACERT, "
                        + "CONSUL_CAPATH, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY)")
                }
            } ?? transport
            return ConsulLeaderRegistry(client: ConsulClient(settings: try Self.settings(consul), transport: exchanger),
                                        discoKey: discoKey, ttl: recordTTL)
        case .etcdKV(let etcd):
            let exchanger = try etcd.tls.map { try Self.tlsTransport(transport, $0, field: "ca_file, cert_file, key_file") } ?? transport
            let gateway = EtcdGateway(endpoints: etcd.endpointURLs, username: etcd.username, password: etcd.password,
                                      timeout: etcd.dialTimeout ?? .seconds(5), transport: exchanger)
            return EtcdLeaderRegistry(gateway: gateway, discoKey: discoKey, ttl: recordTTL)
        }
    }

    /// `transport` speaking TLS with `settings`; a file that cannot be used is a configuration
    /// error naming it.
    static func tlsTransport(_ transport: any HTTPExchanging, _ settings: ClientTLSSettings, field: String) throws -> any HTTPExchanging {
        do {
            return try transport.withTLS(settings)
        } catch {
            throw DiscoveryConfigurationError(field: field, reason: "\(error)")
        }
    }

    static func settings(_ consul: ConsulKVConfig) throws -> ConsulClient.Settings {
        var settings = ConsulClient.Settings(address: consul.address?.description ?? "127.0.0.1:8500")
        settings.scheme = consul.effectiveScheme.rawValue
        settings.datacenter = consul.datacenter
        settings.namespace = consul.namespace
        settings.partition = consul.partition
        settings.token = consul.token
        // As Consul's client: a token file, when named, is read once and wins over a token
        // (an empty "token" beside it included); an empty file leaves the token as it was.
        if let tokenFile = consul.tokenFile, !tokenFile.isEmpty {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw DiscoveryConfigurationError(
                    field: "token_file",
                    reason: "cannot read \(tokenFile) (named by disco-config \"token_file\" or \(ConsulKVConfig.EnvironmentVariable.tokenFile))")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !token.isEmpty { settings.token = token }
        }
        if let auth = consul.basicAuth { settings.basicAuth = (auth.username, auth.password) }
        return settings
    }
}

// MARK: - DiscoveryConfigurationError

/// A disco-config value that is valid JSON but cannot be used, naming the field.
public struct DiscoveryConfigurationError: Error, CustomStringConvertible {
    public let field: String
    public let reason: String
    public var description: String { "disco-config field \"\(field)\": \(reason)" }
}

// MARK: - LeaderRecordAddressProvider

/// Discovery through a KV leader record: the one address is the leader's HTTP API.
public struct LeaderRecordAddressProvider: AddressProvider {
    public let registry: any LeaderRegistry

    public init(registry: any LeaderRegistry) { self.registry = registry }

    public var name: String { registry.name }

    public func lookup() async throws -> [PeerAddress] {
        guard let current = try await registry.read() else { return [] }
        do {
            return [try PeerAddress(parsing: current.record.apiAddr)]
        } catch {
            throw DiscoveryError(.malformed, server: registry.name, record: "leader",
                                 detail: "api_addr \(current.record.apiAddr.debugDescription) is not an address: \(error)")
        }
    }
}
