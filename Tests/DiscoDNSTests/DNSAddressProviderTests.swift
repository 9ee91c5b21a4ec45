import DiscoCore
import DiscoTestKit
import Testing
@testable import DiscoDNS

/// `-disco-mode dns` against a real dnsmasq.
@Suite struct DNSAddressProviderTests {
    static func provider(_ name: String, _ fixture: DnsmasqFixture, port: UInt16? = nil) throws -> DNSAddressProvider {
        try DNSAddressProvider(config: DNSConfig(name: name, port: port, nameserver: try PeerAddress(parsing: fixture.nameserver)), defaultPort: 4001)
    }

    static var records: DnsmasqFixture.Records {
        var records = DnsmasqFixture.Records()
        records.localDomains = ["disco.test"]
        records.hosts = [
            ("many.disco.test", "10.0.0.3"), ("many.disco.test", "10.0.0.1"), ("many.disco.test", "10.0.0.2"),
            ("v6.disco.test", "fd00::2"), ("v6.disco.test", "fd00::1"),
            ("both.disco.test", "10.0.0.5"), ("both.disco.test", "fd00::5"),
        ]
        records.cnames = [("alias.disco.test", "many.disco.test")]
        records.srv = [.init(name: "_raft._tcp.disco.test", target: "many.disco.test", port: 4002)]
        return records
    }

    @Test func severalARecordsComeBackSortedWithTheDefaultPort() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let peers = try await Self.provider("many.disco.test", dns).lookup()
            #expect(peers.map(\.description) == ["10.0.0.1:4001", "10.0.0.2:4001", "10.0.0.3:4001"])
        }
    }

    @Test func configuredPortOverridesTheDefault() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let peers = try await Self.provider("many.disco.test.", dns, port: 4101).lookup()
            #expect(peers.map(\.port) == [4101, 4101, 4101])
        }
    }

    @Test func aaaaOnlyNamesGiveBracketedIPv6Addresses() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let peers = try await Self.provider("v6.disco.test", dns).lookup()
            #expect(peers.map(\.description) == ["[fd00::1]:4001", "[fd00::2]:4001"])
        }
    }

    @Test func namesWithBothFamiliesGiveBoth() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let peers = try await Self.provider("both.disco.test", dns).lookup()
            #expect(Set(peers.map(\.description)) == ["10.0.0.5:4001", "[fd00::5]:4001"])
            #expect(peers == peers.sorted())
        }
    }

    @Test func followsCNAMEs() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let peers = try await Self.provider("alias.disco.test", dns).lookup()
            #expect(peers.map(\.description) == ["10.0.0.1:4001", "10.0.0.2:4001", "10.0.0.3:4001"])
        }
    }

    @Test func missingNameIsNXDOMAINNamingServerAndRecord() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let error = try await #require(throws: DNSLookupError.self) { try await Self.provider("gone.disco.test", dns).lookupAddresses() }
            #expect(error.code == .nameDoesNotExist)
            #expect(error.server == dns.nameserver)
            #expect(error.description.contains("gone.disco.test"))
            #expect(error.description.contains("NXDOMAIN"))
        }
    }

    @Test func nameWithoutAddressRecordsIsNoRecords() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let error = try await #require(throws: DNSLookupError.self) { try await Self.provider("_raft._tcp.disco.test", dns).lookupAddresses() }
            #expect(error.code == .noRecords)
            #expect(error.question == "A/AAAA _raft._tcp.disco.test")
        }
    }

    @Test func nameOutsideDnsmasqsZonesIsRefused() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let error = try await #require(throws: DNSLookupError.self) { try await Self.provider("elsewhere.example", dns).lookupAddresses() }
            #expect(error.code == .queryRefused)
        }
    }

    @Test func largeAnswersAreTruncatedOverUDPAndFetchedOverTCP() async throws {
        var records = DnsmasqFixture.Records()
        records.localDomains = ["disco.test"]
        records.hosts = (1...60).map { ("big.disco.test", "10.1.0.\($0)") }
        try await DnsmasqFixture.with(records) { dns in
            let peers = try await Self.provider("big.disco.test", dns).lookup()
            #expect(peers.count == 60)
            #expect(peers.first?.description == "10.1.0.1:4001")
        }
    }

    @Test func unreachableNameserverTimesOutNamingTheServer() async throws {
        // A bound UDP socket that never answers.
        let server = try ScriptedDNSServer(udp: { _ in [] })
        defer { server.stop() }
        let provider = try DNSAddressProvider(
            config: DNSConfig(name: "n.disco.test", nameserver: try PeerAddress(parsing: server.nameserver)), defaultPort: 4001,
            options: DNSClientOptions(timeoutPerTry: .milliseconds(200), tries: 2))
        let error = try await #require(throws: DNSLookupError.self) { try await provider.lookupAddresses() }
        #expect(error.code == .timeout)
        #expect(error.description.contains(server.nameserver))
    }

    @Test func closedNameserverPortIsConnectionRefused() async throws {
        let port = try FreePort.loopback()
        let provider = try DNSAddressProvider(config: DNSConfig(name: "n.disco.test", nameserver: PeerAddress(host: "127.0.0.1", port: port)), defaultPort: 4001)
        let error = try await #require(throws: DNSLookupError.self) { try await provider.lookupAddresses() }
        #expect(error.code == .connectionRefused)
        #expect(error.description.contains("127.0.0.1:\(port)"))
    }

    @Test func systemResolverFindsLocalhost() async throws {
        let provider = try DNSAddressProvider(config: DNSConfig(name: "localhost"), defaultPort: 4001)
        let peers = try await provider.lookup()
        #expect(peers.contains(PeerAddress(host: "127.0.0.1", port: 4001)))
        #expect(provider.name.contains("getaddrinfo"))
    }

    @Test func badConfigNamesTheField() {
        let name = #expect(throws: DNSConfigurationError.self) { try DNSAddressProvider(config: DNSConfig(name: "a..b"), defaultPort: 1) }
        #expect(name?.field == "name")
        let port = #expect(throws: DNSConfigurationError.self) { try DNSAddressProvider(config: DNSConfig(name: "rqlite", port: 0), defaultPort: 1) }
        #expect(port?.field == "port")
    }

    @Test func duplicatesAcrossFamiliesAndRecordsAreDropped() async throws {
        struct Doubled: HostAddressResolving {
            var serverDescription: String { "stub" }
            func addresses(of name: DNSName) async throws(DNSLookupError) -> [DNSIPAddress] {
                [[10, 0, 0, 2], [10, 0, 0, 1], [10, 0, 0, 2]].compactMap { DNSIPAddress(bytes: $0) }
            }
        }
        let provider = DNSAddressProvider(hostName: try DNSName(parsing: "x"), port: 9, resolver: Doubled())
        #expect(try await provider.lookup().map(\.description) == ["10.0.0.1:9", "10.0.0.2:9"])
    }
}
