import DiscoCore
import DiscoDNS
import DiscoNet
import DiscoTestKit
import Testing
@testable import DiscoSRV

/// `-disco-mode dns-srv` without a `nameserver` searches a short name in resolv.conf's search
/// list, as Kubernetes pods need for `{"name":"app-hs","service":"disco"}`.
@Suite struct SRVSearchListTests {
    static var records: DnsmasqFixture.Records {
        var records = DnsmasqFixture.Records()
        records.localDomains = ["svc.test"]
        records.hosts = [("app-0.app-hs.ns.svc.test", "10.1.0.1"), ("app-1.app-hs.ns.svc.test", "10.1.0.2")]
        records.srv = [
            .init(name: "_disco._tcp.app-hs.ns.svc.test", target: "app-0.app-hs.ns.svc.test", port: 4001),
            .init(name: "_disco._tcp.app-hs.ns.svc.test", target: "app-1.app-hs.ns.svc.test", port: 4001),
        ]
        return records
    }

    /// A provider built from disco-config the way discod builds it, with the system resolver
    /// configuration (servers, search list, ndots) given instead of read from /etc/resolv.conf.
    static func provider(name: String, dns: DnsmasqFixture) throws -> SRVAddressProvider {
        let server = try #require(SocketAddress(numericHost: "127.0.0.1", port: dns.port))
        let system = SystemResolverConfiguration(servers: [server], timeoutPerTry: .seconds(2), attempts: 2,
                                                 searchDomains: ["ns.svc.test", "svc.test"], ndots: 5)
        let nameserver = try NameserverClient(nameserver: dns.nameserver)
        return try SRVAddressProvider(config: DNSSRVConfig(name: name, service: "disco"), options: DNSClientOptions(),
                                      random: DeterministicRandom(seed: 1), system: LibresolvClient(configuration: .success(system)),
                                      systemTargets: DNSResolver(querier: nameserver))
    }

    @Test func shortNameIsFoundThroughTheSearchList() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let peers = try await Self.provider(name: "app-hs", dns: dns).lookup()
            #expect(peers.map(\.description).sorted() == ["10.1.0.1:4001", "10.1.0.2:4001"])
        }
    }

    @Test func fullyQualifiedNameIsNotSearched() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            #expect(try await Self.provider(name: "app-hs.ns.svc.test.", dns: dns).lookup().count == 2)
            // "app-hs." is the root-level name app-hs: not searched, so not found.
            let error = try await #require(throws: DNSLookupError.self) { try await Self.provider(name: "app-hs.", dns: dns).lookupAddresses() }
            #expect(error.question == "SRV _disco._tcp.app-hs")
        }
    }

    @Test func missingEverywhereNamesTheNamesTried() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            // Enough dots to be asked as given first; then each search domain.
            let error = try await #require(throws: DNSLookupError.self) {
                try await Self.provider(name: "gone.a.b.c.svc.test", dns: dns).lookupAddresses()
            }
            #expect(error.code == .nameDoesNotExist)
            #expect(error.question == "SRV _disco._tcp.gone.a.b.c.svc.test")
            #expect(error.detail.contains("_disco._tcp.gone.a.b.c.svc.test.ns.svc.test"))
        }
    }
}
