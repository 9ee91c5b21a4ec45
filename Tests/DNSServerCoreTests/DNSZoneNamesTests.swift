import DNSServerCore
import DiscoCore
import Testing

/// Every name form the zone serves, asked through the answerer and read back with the codec.
@Suite struct DNSZoneNamesTests {
    typealias Z = SampleZone

    @Test func nodeNamesHaveEachMembersAddressesDeadOrAlive() throws {
        let one = try Z.ask("1.node.disco.", .a)
        #expect(one.header.responseCode == .noError && one.header.isAuthoritative && !one.header.isTruncated)
        #expect(one.answerTexts == ["A 10.0.0.1"])
        #expect(one.answers.allSatisfy { $0.ttl == 5 && $0.name == Z.name("1.node.disco") })
        #expect(try Z.ask("1.node.disco.", .aaaa).answerTexts == ["AAAA fd00::1"])
        #expect(try Z.ask("3.node.disco.", .a).answerTexts == ["A 10.0.0.3"])
        #expect(try Z.ask("\(Z.node4).node.disco.", .a).answerTexts == ["A 10.0.0.4"])
    }

    @Test func roleNamesHaveTheServedMembersOnly() throws {
        #expect(try Z.ask("host.role.disco.", .a).answerTexts == ["A 10.0.0.1", "A 10.0.0.2", "A 10.0.0.4"])
        #expect(try Z.ask("host.role.disco.", .aaaa).answerTexts == ["AAAA fd00::1"])
        // Member 3 performs dns too, but it is dead.
        #expect(try Z.ask("dns.role.disco.", .a).answerTexts == ["A 10.0.0.1"])
    }

    @Test func srvNamesGiveAPIPortsAndNodeTargetsWithTheirAddressesAsGlue() throws {
        let host = try Z.ask("_host._tcp.disco.", .srv)
        #expect(host.answerTexts == ["SRV 0 1 4001 1.node.disco", "SRV 0 1 4002 2.node.disco", "SRV 0 1 4004 \(Z.node4).node.disco"])
        #expect(host.additionalTexts == ["A 10.0.0.1", "A 10.0.0.2", "A 10.0.0.4", "AAAA fd00::1"])
        #expect(host.additional.filter { $0.type == .a }.map(\.name) == [Z.name("1.node.disco"), Z.name("2.node.disco"), Z.name("\(Z.node4).node.disco")])
        #expect(try Z.ask("_dns._tcp.disco.", .srv).answerTexts == ["SRV 0 1 4001 1.node.disco"])
    }

    @Test func leaderAndApex() throws {
        #expect(try Z.ask("leader.disco.", .a).answerTexts == ["A 10.0.0.1"])
        #expect(try Z.ask("leader.disco.", .aaaa).answerTexts == ["AAAA fd00::1"])
        // NS: the live name servers (3 is dead), with glue.
        let ns = try Z.ask("disco.", .ns)
        #expect(ns.answerTexts == ["NS 1.node.disco"])
        #expect(ns.additionalTexts == ["A 10.0.0.1", "AAAA fd00::1"])
        let soa = try Z.ask("disco.", .soa)
        #expect(soa.answerTexts == ["SOA 1.node.disco hostmaster.disco 42 30"])
        #expect(soa.answers.first?.ttl == 5)
        let any = try Z.ask("disco.", DNSRecordType(rawValue: 255))
        #expect(any.answerTexts == ["NS 1.node.disco", "SOA 1.node.disco hostmaster.disco 42 30"])
    }

    @Test func unknownLeaderAndUnservedRoleAreNXDOMAIN() throws {
        var source = Z.source
        source.leader = nil
        let zone = DNSZone(settings: Z.settings, source: source)
        #expect(try Z.ask("leader.disco.", .a, zone: zone).header.responseCode == .nameError)
        #expect(try Z.ask("nginx.role.disco.", .a).header.responseCode == .nameError)
        #expect(try Z.ask("_nginx._tcp.disco.", .srv).header.responseCode == .nameError)
    }

    @Test func memberLabelsAndOmissionsAreReported() {
        #expect(Z.zone.memberNames["1"] == Z.name("1.node.disco"))
        #expect(Z.zone.memberNames["Node_4"] == Z.name("\(Z.node4).node.disco"))
        #expect(Z.zone.omissions.map(\.description).contains { $0.contains("bad_role") && $0.contains("not a host name label") })
    }

    @Test func domainsWithSeveralLabelsAndUpperCaseAreServedInLowerCase() throws {
        let settings = try DNSZoneSettings(domain: "Disco.Example.COM", ttl: .seconds(60))
        let zone = DNSZone(settings: settings, source: Z.source)
        let answer = try Z.ask("LEADER.disco.example.com.", .a, zone: zone)
        #expect(answer.answerTexts == ["A 10.0.0.1"])
        #expect(answer.answers.first?.ttl == 60)
        #expect(zone.settings.domain.description == "disco.example.com")
    }
}
