import DiscoCore
import DiscoDNS
import DiscoTestKit
import Synchronization
import Testing
@testable import DiscoSRV

/// Wraps a querier and records every question asked.
final class RecordingQuerier: DNSQuerying {
    let base: any DNSQuerying
    let asked = Mutex<[DNSQuestion]>([])
    let lastAnswer = Mutex<DNSMessage?>(nil)
    init(_ base: any DNSQuerying) { self.base = base }
    var serverDescription: String { base.serverDescription }
    func exchange(_ question: DNSQuestion) async throws(DNSLookupError) -> DNSMessage {
        asked.withLock { $0.append(question) }
        let message = try await base.exchange(question)
        lastAnswer.withLock { $0 = message }
        return message
    }
}

/// `-disco-mode dns-srv` against a real dnsmasq.
@Suite struct SRVAddressProviderTests {
    static var records: DnsmasqFixture.Records {
        var records = DnsmasqFixture.Records()
        records.localDomains = ["disco.test"]
        records.hosts = [
            ("n1.disco.test", "10.0.0.1"), ("n2.disco.test", "10.0.0.2"), ("n2.disco.test", "fd00::2"), ("n3.disco.test", "10.0.0.3"),
        ]
        // Answered by dnsmasq's --address rule, which it does not keep as cached host data.
        records.addresses = [("ext.disco.test", "10.9.0.1")]
        records.srv = [
            .init(name: "_raft._tcp.disco.test", target: "n1.disco.test", port: 4001, priority: 10),
            .init(name: "_raft._tcp.disco.test", target: "n2.disco.test", port: 4002, priority: 20),
            .init(name: "_raft._tcp.disco.test", target: "n3.disco.test", port: 4003, priority: 5),
            .init(name: "_ext._tcp.disco.test", target: "ext.disco.test", port: 5001),
            .init(name: "_mixed._tcp.disco.test", target: "missing.disco.test", port: 6001, priority: 1),
            .init(name: "_mixed._tcp.disco.test", target: "n1.disco.test", port: 6002, priority: 2),
            .init(name: "_broken._tcp.disco.test", target: "missing.disco.test", port: 7001),
            .init(name: "_udp-svc._udp.disco.test", target: "n3.disco.test", port: 8001),
            .init(name: "_none._tcp.disco.test", target: "", port: 0),
            .init(name: "_weighted._tcp.disco.test", target: "n1.disco.test", port: 9001, priority: 1, weight: 1),
            .init(name: "_weighted._tcp.disco.test", target: "n3.disco.test", port: 9003, priority: 1, weight: 3),
            .init(name: "_weighted._tcp.disco.test", target: "n2.disco.test", port: 9002, priority: 2, weight: 50),
        ]
        return records
    }

    static func provider(_ service: String, _ dns: DnsmasqFixture, protocol srvProtocol: DNSSRVConfig.SRVProtocol = .tcp) throws -> (SRVAddressProvider, RecordingQuerier) {
        let client = try NameserverClient(nameserver: dns.nameserver)
        let recorder = RecordingQuerier(client)
        let config = DNSSRVConfig(name: "disco.test", service: service, protocol: srvProtocol, nameserver: try PeerAddress(parsing: dns.nameserver))
        let provider = SRVAddressProvider(
            queryName: try config.dnsQueryName(), querier: recorder, targetResolver: DNSResolver(querier: recorder),
            random: DeterministicRandom(seed: 1))
        return (provider, recorder)
    }

    @Test func ordersByPriorityWithEachRecordsOwnPort() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let peers = try await SRVAddressProvider(config: DNSSRVConfig(name: "disco.test", service: "raft", nameserver: try PeerAddress(parsing: dns.nameserver))).lookup()
            #expect(peers.map(\.description) == ["10.0.0.3:4003", "10.0.0.1:4001", "10.0.0.2:4002", "[fd00::2]:4002"])
        }
    }

    @Test func usesGlueFromTheAdditionalSectionWhenDnsmasqSendsIt() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let (provider, recorder) = try Self.provider("raft", dns)
            let peers = try await provider.lookup()
            #expect(peers.count == 4)
            // dnsmasq adds the A/AAAA records it holds for --host-record targets.
            let answer = try #require(recorder.lastAnswer.withLock { $0 })
            #expect(answer.edns != nil, "queries carry EDNS(0) and dnsmasq answers with it")
            let glue = answer.additional.filter { $0.type != .opt }
            #expect(Set(glue.map(\.name.description)) == ["n1.disco.test", "n2.disco.test", "n3.disco.test"])
            #expect(recorder.asked.withLock { $0.map(\.description) } == ["SRV _raft._tcp.disco.test"], "no address queries with glue")
        }
    }

    @Test func resolvesTargetsWithoutGlueByAskingForAAndAAAA() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let (provider, recorder) = try Self.provider("ext", dns)
            let peers = try await provider.lookup()
            #expect(peers.map(\.description) == ["10.9.0.1:5001"])
            let asked = Set(recorder.asked.withLock { $0.map(\.description) })
            #expect(asked == ["SRV _ext._tcp.disco.test", "A ext.disco.test", "AAAA ext.disco.test"])
        }
    }

    @Test func skipsAnUnresolvableTargetWhenAnotherWorks() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let (provider, _) = try Self.provider("mixed", dns)
            #expect(try await provider.lookup().map(\.description) == ["10.0.0.1:6002"])
        }
    }

    @Test func failsNamingTheTargetWhenNoTargetResolves() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let (provider, _) = try Self.provider("broken", dns)
            let error = try await #require(throws: DNSLookupError.self) { try await provider.lookupAddresses() }
            #expect(error.code == .nameDoesNotExist)
            #expect(error.description.contains("missing.disco.test"))
            #expect(error.server == dns.nameserver)
        }
    }

    @Test func protocolLabelIsConfigurable() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let (provider, _) = try Self.provider("udp-svc", dns, protocol: .udp)
            #expect(try await provider.lookup().map(\.description) == ["10.0.0.3:8001"])
        }
    }

    @Test func missingServiceIsNXDOMAINAndAHostIsNoRecords() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let (missing, _) = try Self.provider("nothing", dns)
            let error = try await #require(throws: DNSLookupError.self) { try await missing.lookupAddresses() }
            #expect(error.code == .nameDoesNotExist)
            #expect(error.question == "SRV _nothing._tcp.disco.test")

            let host = SRVAddressProvider(
                queryName: try DNSName(parsing: "n1.disco.test"), querier: try NameserverClient(nameserver: dns.nameserver),
                targetResolver: SystemAddressResolver(), random: DeterministicRandom(seed: 1))
            let noSRV = try await #require(throws: DNSLookupError.self) { try await host.lookupAddresses() }
            #expect(noSRV.code == .noRecords)
        }
    }

    @Test func weightsShapeTheOrderOfRealAnswers() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let (provider, _) = try Self.provider("weighted", dns)
            var firstIsHeavy = 0
            let rounds = 400
            for _ in 0..<rounds {
                let peers = try await provider.lookup().map(\.description)
                #expect(Set(peers.prefix(2)) == ["10.0.0.1:9001", "10.0.0.3:9003"], "priority 1 before priority 2")
                #expect(peers.suffix(2) == ["10.0.0.2:9002", "[fd00::2]:9002"])
                if peers.first == "10.0.0.3:9003" { firstIsHeavy += 1 }
            }
            let share = Double(firstIsHeavy) / Double(rounds)
            #expect(abs(share - 0.75) < 0.08, "weight 3 of 4 first in \(share) of rounds")
        }
    }

    @Test func dnsmasqsRootTargetMeansNoAddresses() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let (provider, recorder) = try Self.provider("none", dns)
            #expect(try await provider.lookup().isEmpty)
            let answers = try #require(recorder.lastAnswer.withLock { $0 }).answers
            #expect(answers.count == 1)
            guard case .srv(let srv) = answers.first?.data else { Issue.record("no SRV answer"); return }
            #expect(srv.target.isRoot)
        }
    }

    @Test func rootTargetMeansTheServiceIsNotAvailable() async throws {
        let name = try DNSName(parsing: "_none._tcp.disco.test")
        struct RootOnly: DNSQuerying {
            let name: DNSName
            var serverDescription: String { "stub" }
            func exchange(_ question: DNSQuestion) async throws(DNSLookupError) -> DNSMessage {
                DNSMessage(
                    header: DNSHeader(id: 1, flags: 0x8180), questions: [question],
                    answers: [DNSResourceRecord(name: name, type: .srv, ttl: 5, data: .srv(SRVData(priority: 0, weight: 0, port: 0, target: .root)))])
            }
        }
        let provider = SRVAddressProvider(queryName: name, querier: RootOnly(name: name), targetResolver: SystemAddressResolver(), random: DeterministicRandom(seed: 1))
        #expect(try await provider.lookup().isEmpty)
    }

    @Test func systemResolverPathThroughLibresolv() async throws {
        try await DnsmasqFixture.with(Self.records) { dns in
            let libresolv = LibresolvClient(timeoutPerTry: .seconds(2), tries: 2, override: .init(ipv4: "127.0.0.1", port: dns.port))
            let provider = SRVAddressProvider(
                queryName: try DNSName(parsing: "_raft._tcp.disco.test"), querier: libresolv,
                targetResolver: DNSResolver(querier: try NameserverClient(nameserver: dns.nameserver)), random: DeterministicRandom(seed: 1))
            #expect(try await provider.lookup().map(\.description) == ["10.0.0.3:4003", "10.0.0.1:4001", "10.0.0.2:4002", "[fd00::2]:4002"])

            let resolver = DNSResolver(querier: libresolv)
            let missing = try await #require(throws: DNSLookupError.self) { try await resolver.lookup(try DNSName(parsing: "_x._tcp.disco.test"), type: .srv) }
            #expect(missing.code == .nameDoesNotExist)
            #expect(missing.server.contains("libresolv"))
            let empty = try await #require(throws: DNSLookupError.self) { try await resolver.lookup(try DNSName(parsing: "n1.disco.test"), type: .srv) }
            #expect(empty.code == .noRecords)
        }
    }

    @Test func queryNameAndItsErrors() throws {
        #expect(try DNSSRVConfig(name: "rqlite", service: "rqlite").dnsQueryName().description == "_rqlite._tcp.rqlite")
        #expect(try DNSSRVConfig(name: "disco.test", service: "raft", protocol: .udp).dnsQueryName().description == "_raft._udp.disco.test")
        let service = #expect(throws: DNSConfigurationError.self) { try DNSSRVConfig(name: "x", service: "_raft").dnsQueryName() }
        #expect(service?.field == "service")
        let empty = #expect(throws: DNSConfigurationError.self) { try DNSSRVConfig(name: "x", service: "").dnsQueryName() }
        #expect(empty?.field == "service")
        let name = #expect(throws: DNSConfigurationError.self) { try DNSSRVConfig(name: "a..b", service: "raft").dnsQueryName() }
        #expect(name?.field == "name")
    }
}

/// Failure reporting of the libresolv path (the one used without a configured nameserver).
@Suite struct LibresolvFailureTests {
    @Test func closedPortIsReportedAsConnectionRefused() async throws {
        let port = try FreePort.loopback()
        let client = LibresolvClient(timeoutPerTry: .seconds(1), tries: 1, override: .init(ipv4: "127.0.0.1", port: port))
        let error = try await #require(throws: DNSLookupError.self) {
            try await client.exchange(DNSQuestion(name: try DNSName(parsing: "_raft._tcp.disco.test"), type: .srv))
        }
        #expect(error.code == .connectionRefused)
        #expect(error.server.contains("127.0.0.1:\(port)"))
        #expect(error.question == "SRV _raft._tcp.disco.test")
    }

    @Test func refusedQueryKeepsItsResponseCode() async throws {
        // dnsmasq without upstream servers answers REFUSED for names outside its local domains.
        try await DnsmasqFixture.with(DnsmasqFixture.Records()) { dns in
            let client = LibresolvClient(timeoutPerTry: .seconds(2), tries: 1, override: .init(ipv4: "127.0.0.1", port: dns.port))
            let error = try await #require(throws: DNSLookupError.self) {
                try await DNSResolver(querier: client).lookup(try DNSName(parsing: "_raft._tcp.elsewhere.example"), type: .srv)
            }
            #expect(error.code == .queryRefused)
        }
    }
}
