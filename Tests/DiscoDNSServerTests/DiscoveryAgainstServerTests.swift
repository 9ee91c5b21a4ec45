import DiscoCore
import DiscoDNS
import DiscoDNSServer
import DiscoSRV
import DiscoTestKit
import Testing

/// Disco's own `dns` and `dns-srv` discovery, with a `nameserver` in disco-config, resolving
/// against the server: what another cluster gets when it points `-disco-mode` at the DNS role.
@Suite(.serialized) struct DiscoveryAgainstServerTests {
    typealias F = ServerFixture

    static func nameserver(_ server: DNSServer) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: server.port) }

    static func dnsLookup(_ server: DNSServer, _ name: String) async throws -> [String] {
        let provider = try DNSAddressProvider(config: DNSConfig(name: name, port: 4001, nameserver: nameserver(server)), defaultPort: 4001)
        return try await provider.lookup().map(\.description).sorted()
    }

    static func srvLookup(_ server: DNSServer, _ service: String) async throws -> [String] {
        let provider = try SRVAddressProvider(
            config: DNSSRVConfig(name: "disco", service: service, nameserver: nameserver(server)), random: DeterministicRandom(seed: 3))
        return try await provider.lookup().map(\.description).sorted()
    }

    @Test func dnsModeResolvesRoleAndLeaderNames() async throws {
        try await F.with { (server) async throws in
            #expect(try await Self.dnsLookup(server, "host.role.disco") == ["127.0.0.1:4001", "127.0.0.2:4001", "127.0.0.3:4001", "[fd00::3]:4001"])
            #expect(try await Self.dnsLookup(server, "leader.disco.") == ["127.0.0.1:4001"])
            server.update(F.zone(dead: ["1"]))
            #expect(try await Self.dnsLookup(server, "host.role.disco") == ["127.0.0.2:4001", "127.0.0.3:4001", "[fd00::3]:4001"])
        }
    }

    @Test func dnsSRVModeGetsEachMembersAPIPort() async throws {
        try await F.with { (server) async throws in
            #expect(try await Self.srvLookup(server, "host") == ["127.0.0.1:4001", "127.0.0.2:4002", "127.0.0.3:4003", "[fd00::3]:4003"])
            #expect(try await Self.srvLookup(server, "dns") == ["127.0.0.1:4001", "127.0.0.2:4002"])
            server.update(F.zone(dead: ["2"]))
            #expect(try await Self.srvLookup(server, "dns") == ["127.0.0.1:4001"])
            // 150 targets do not fit a UDP answer: the client's TCP retry gets them all.
            #expect(try await Self.srvLookup(server, "many").count == 150)
        }
    }

    @Test func discoctlLookupAgainstTheServer() async throws {
        let discoctl = try DiscodProcess.executable("discoctl")
        try await F.with { (server) async throws in
            let config = #"{"name":"disco","service":"host","nameserver":"127.0.0.1:\#(server.port)"}"#
            let output = try await Command.check(discoctl, ["lookup", "-disco-mode", "dns-srv", "-disco-config", config])
            #expect(output.split(separator: "\n").sorted() == ["127.0.0.1:4001", "127.0.0.2:4002", "127.0.0.3:4003", "[fd00::3]:4003"], "\(output)")
            let missing = try await Command.run(discoctl, ["lookup", "-disco-mode", "dns", "-disco-config",
                                                           #"{"name":"web.role.disco","nameserver":"127.0.0.1:\#(server.port)"}"#])
            #expect(missing.status == 1 && missing.standardError.contains("NXDOMAIN"), "\(missing.standardError)")
        }
    }
}
