import DNSServerCore
import DiscoCore
import DiscoDNSServer

// MARK: - DNSRoleConfiguration

/// Where and how the `dns` role serves the cluster: `-dns-addr`, `-dns-domain` and `-dns-ttl`.
public struct DNSRoleConfiguration: Sendable, Hashable {
    /// Where the server listens (UDP and TCP) and its limits. Default `127.0.0.1:8600`.
    public var server: DNSServerConfiguration
    /// The zone's domain and TTL. Default `disco.` with 5 seconds.
    public var zone: DNSZoneSettings
    /// How long a member in the records that gossip has not heard of is served (one that has
    /// just joined); after that it is not (one that died while this node was down). 30 seconds.
    public var unknownMemberGrace: Duration = .seconds(30)
    /// How long a rebuild of the zone waits for the lookup of a host name a member advertises
    /// (names are looked up at once, so one slow or unreachable name delays a rebuild by at most
    /// this much; its lookup goes on, and the zone is rebuilt when it answers). 2 seconds.
    public var hostLookupTimeout: Duration = .seconds(2)
    /// How long a host name whose lookups fail or time out is still served at the addresses of
    /// its last successful lookup, from when they started failing. 5 minutes.
    public var staleHostAddressLimit: Duration = .seconds(300)

    public init(server: DNSServerConfiguration, zone: DNSZoneSettings) {
        self.server = server
        self.zone = zone
    }

    /// The settings the flags' text asks for (`-dns-addr 127.0.0.1:8600 -dns-domain disco. -dns-ttl 5s`);
    /// throws naming the flag whose value cannot work.
    public init(address: String = DNSServerConfiguration.defaultAddress, domain: String = DNSZoneSettings.defaultDomain,
                ttl: Duration = .seconds(Int64(DNSZoneSettings.defaultTTL))) throws(DNSSettingsError) {
        server = try DNSServerConfiguration(address: address)
        zone = try DNSZoneSettings(domain: domain, ttl: ttl)
    }
}
