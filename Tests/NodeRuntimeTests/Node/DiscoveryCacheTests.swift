import DiscoCore
import DiscoNet
import DiscoSystem
import DiscoTestKit
import Foundation
import NodeRuntime
import Testing

// MARK: - One address provider per node, so DNS answers are kept for their TTL

@Suite struct DiscoveryCacheTests {
    /// A node waiting for a second voter runs a discovery round again and again. Its one
    /// provider keeps dnsmasq's A answer (TTL 30 s) across those rounds; the empty AAAA answer
    /// (NODATA) is never kept, so dnsmasq's log shows one A query and an AAAA query per round.
    @Test func lookupRoundsShareOneProviderAndItsCache() async throws {
        var records = DnsmasqFixture.Records()
        records.localDomains = ["disco.test"]
        records.hosts = [("nodes.disco.test", "127.0.0.1")]
        records.ttl = 30
        try await DnsmasqFixture.with(records, logQueries: true) { dns in
            var setup = try TestNodeSetup(id: "c1", prefix: "disco-cache")
            defer { setup.removeDirectory() }
            let http = setup.httpPort
            let config = try DiscoConfig.decode(mode: .dns, json: JSONValue.parse(Array(#"{"name":"nodes.disco.test","nameserver":"\#(dns.nameserver)"}"#.utf8)))
            setup.configuration.formation.plan = .bootstrapExpect
            setup.configuration.formation.discovery = NodeConfiguration.Formation.Discovery(config: config)
            setup.configuration.formation.bootstrapExpect = 2
            let running = try await RunningNode.start(setup.configuration)
            let client = HTTPClient()
            func queries(_ type: String) -> Int {
                dns.process.output.split(separator: "\n").filter { $0.contains("query[\(type)] nodes.disco.test ") }.count
            }
            try await waitUntil("four discovery rounds") {
                let answer = try? await client.send(HTTPClientRequest(url: "http://127.0.0.1:\(http)/status"))
                let rounds = answer.flatMap { try? JSONValue.parse($0.body) }?["bootstrap"]?["rounds"]?.numberValue?.int64Value ?? 0
                return rounds >= 4 && queries("AAAA") >= 4
            }
            #expect(queries("A") == 1, "\(dns.process.output)")
            await client.shutdown()
            #expect(await running.stop() == nil)
        }
    }
}
