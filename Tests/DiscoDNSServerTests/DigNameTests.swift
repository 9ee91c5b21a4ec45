import DiscoCore
import DiscoDNSServer
import DiscoTestKit
import Testing

/// dig (BIND 9, Debian dnsutils) against the server on loopback: every name form, negative
/// answers, refusals, and a member dropping out after a snapshot update.
@Suite(.serialized) struct DigNameTests {
    typealias F = ServerFixture

    @Test func everyNameFormAnswers() async throws {
        try await F.with { (server) async throws in
            let node = try await F.dig(server, ["1.node.disco.", "A"])
            #expect(node.contains("status: NOERROR") && node.contains("flags: qr aa rd;"), "\(node)")
            #expect(F.section("ANSWER", of: node) == ["1.node.disco.\t\t5\tIN\tA\t127.0.0.1"], "\(node)")
            #expect(node.contains("; EDNS: version: 0, flags:; udp: 1232"), "\(node)")
            #expect(try await F.digData(server, ["3.node.disco", "AAAA"], "ANSWER") == ["fd00::3"])

            let role = try await F.dig(server, ["host.role.disco", "A"])
            #expect(F.data("ANSWER", of: role) == ["127.0.0.1", "127.0.0.2", "127.0.0.3"], "\(role)")
            #expect(try await F.digData(server, ["dns.role.disco", "A"], "ANSWER") == ["127.0.0.1", "127.0.0.2"])

            let srv = try await F.dig(server, ["_host._tcp.disco", "SRV"])
            #expect(F.data("ANSWER", of: srv, fields: 4) == ["0 1 4001 1.node.disco.", "0 1 4002 2.node.disco.", "0 1 4003 3.node.disco."], "\(srv)")
            #expect(F.section("ADDITIONAL", of: srv).contains("3.node.disco.\t\t5\tIN\tAAAA\tfd00::3"), "\(srv)")
            #expect(F.data("ADDITIONAL", of: srv) == ["127.0.0.1", "127.0.0.2", "127.0.0.3", "fd00::3"], "\(srv)")

            #expect(try await F.digData(server, ["leader.disco", "A"], "ANSWER") == ["127.0.0.1"])
            let ns = try await F.dig(server, ["disco", "NS"])
            #expect(F.data("ANSWER", of: ns) == ["1.node.disco.", "2.node.disco."], "\(ns)")
            let soa = try await F.dig(server, ["disco", "SOA"])
            #expect(F.section("ANSWER", of: soa) == ["disco.\t\t\t5\tIN\tSOA\t1.node.disco. hostmaster.disco. 7 3600 600 86400 5"], "\(soa)")
            // Case is echoed; names match without it.
            let upper = try await F.dig(server, ["LEADER.Disco", "A"])
            #expect(F.section("ANSWER", of: upper) == ["LEADER.Disco.\t\t5\tIN\tA\t127.0.0.1"], "\(upper)")
        }
    }

    @Test func nxdomainAgainstNodataBothWithTheSOA() async throws {
        try await F.with { (server) async throws in
            let soa = "disco.\t\t\t5\tIN\tSOA\t1.node.disco. hostmaster.disco. 7 3600 600 86400 5"
            for name in ["9.node.disco", "nothing.disco", "x.leader.disco", "web.role.disco", "_web._tcp.disco"] {
                let answer = try await F.dig(server, [name, "A"])
                #expect(answer.contains("status: NXDOMAIN") && answer.contains("flags: qr aa rd;"), "\(answer)")
                #expect(F.section("AUTHORITY", of: answer) == [soa], "\(answer)")
            }
            for (name, type) in [("1.node.disco", "AAAA"), ("leader.disco", "SRV"), ("node.disco", "A"), ("role.disco", "A"),
                                 ("_tcp.disco", "SRV"), ("disco", "A")] {
                let answer = try await F.dig(server, [name, type])
                #expect(answer.contains("status: NOERROR") && answer.contains("ANSWER: 0, AUTHORITY: 1,"), "\(name) \(type): \(answer)")
                #expect(F.section("AUTHORITY", of: answer) == [soa], "\(answer)")
            }
        }
    }

    @Test func otherZonesAndRecursionAreRefused() async throws {
        try await F.with { (server) async throws in
            for arguments in [["example.com", "A"], ["+rec", "example.com", "A"], ["+norec", "disco.example", "A"], [".", "NS"],
                              ["-c", "CH", "version.bind", "TXT"], ["+tcp", "example.org", "SRV"]] {
                let answer = try await F.dig(server, arguments)
                #expect(answer.contains("status: REFUSED"), "\(arguments): \(answer)")
                #expect(answer.contains("flags: qr rd;") || answer.contains("flags: qr;"), "not authoritative, no recursion: \(answer)")
            }
        }
    }

    @Test func aMemberThatDiesLeavesRoleAnswersAfterTheUpdate() async throws {
        try await F.with { (server) async throws in
            #expect(try await F.digData(server, ["host.role.disco", "A"], "ANSWER") == ["127.0.0.1", "127.0.0.2", "127.0.0.3"])
            server.update(F.zone(dead: ["2"]))
            #expect(try await F.digData(server, ["host.role.disco", "A"], "ANSWER") == ["127.0.0.1", "127.0.0.3"])
            #expect(try await F.digData(server, ["_host._tcp.disco", "SRV"], "ANSWER", fields: 4) == ["0 1 4001 1.node.disco.", "0 1 4003 3.node.disco."])
            let tcp = try await F.dig(server, ["+tcp", "dns.role.disco", "A"])
            #expect(F.data("ANSWER", of: tcp) == ["127.0.0.1"], "\(tcp)")
            #expect(try await F.digData(server, ["disco", "NS"], "ANSWER") == ["1.node.disco."])
            // Its own name stays: it is still a member.
            #expect(try await F.digData(server, ["2.node.disco", "A"], "ANSWER") == ["127.0.0.2"])
            server.update(F.zone(dead: ["2"], leader: nil))
            #expect(try await F.dig(server, ["leader.disco", "A"]).contains("status: NXDOMAIN"))
            let statistics = await server.statistics()
            #expect(statistics.outcomes[.answered] == 6 && statistics.outcomes[.nameError] == 1 && statistics.queries[.tcp] == 1)
        }
    }
}
