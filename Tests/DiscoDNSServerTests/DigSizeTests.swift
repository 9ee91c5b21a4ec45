import DiscoCore
import DiscoDNSServer
import DiscoTestKit
import Testing

/// EDNS sizes and truncation as dig sees them: +notcp keeps the truncated UDP answer, +tcp and
/// dig's own retry get everything.
@Suite(.serialized) struct DigSizeTests {
    typealias F = ServerFixture

    /// dig's cookie option makes its queries 12 bytes longer than a bare EDNS query; every query
    /// here is long enough that the 10× amplification bound does not cut below the size asked for.
    @Test func udpAnswersFitTheAdvertisedSizeAndTCPGetsEverything() async throws {
        try await F.with { (server) async throws in
            // 150 A records take 2,400 bytes.
            let plain = try await F.dig(server, ["+notcp", "+ignore", "+noedns", "many.role.disco", "A"])
            #expect(plain.contains("flags: qr aa tc rd;") && !plain.contains("; EDNS:"), "\(plain)")
            let plainSize = try #require(F.messageSize(plain))
            #expect(plainSize <= 512, "\(plain)")

            let small = try await F.dig(server, ["+notcp", "+ignore", "+bufsize=100", "many.role.disco", "A"])
            let smallSize = try #require(F.messageSize(small))
            #expect(small.contains("flags: qr aa tc rd;") && smallSize <= 512, "below 512 counts as 512: \(small)")

            let padded = ["+notcp", "+ignore", "+padding=128"]
            let middle = try await F.dig(server, padded + ["+bufsize=700", "many.role.disco", "A"])
            let middleSize = try #require(F.messageSize(middle))
            #expect(middle.contains("flags: qr aa tc rd;") && middleSize <= 700 && middleSize > 512, "\(middle)")

            let large = try await F.dig(server, padded + ["+bufsize=4096", "many.role.disco", "A"])
            let largeSize = try #require(F.messageSize(large))
            #expect(large.contains("flags: qr aa tc rd;") && largeSize <= 1232 && largeSize > 1100, "our maximum is 1232: \(large)")

            let retried = try await F.dig(server, ["many.role.disco", "A"])
            #expect(retried.contains("Truncated, retrying in TCP mode."), "\(retried)")
            #expect(retried.contains("ANSWER: 150,"), "\(retried)")

            let tcp = try await F.dig(server, ["+tcp", "_many._tcp.disco", "SRV"])
            #expect(tcp.contains("ANSWER: 150,") && tcp.contains("ADDITIONAL: 151\n") && !tcp.contains(" tc "), "\(tcp)")
        }
    }

    @Test func answersThatFitAreWholeOverUDP() async throws {
        try await F.with { (server) async throws in
            let srv = try await F.dig(server, ["+notcp", "_host._tcp.disco", "SRV"])
            #expect(srv.contains("flags: qr aa rd;") && srv.contains("ANSWER: 3,") && srv.contains("ADDITIONAL: 5\n"), "\(srv)")
        }
    }

    @Test func unknownEDNSVersionsGetBADVERS() async throws {
        try await F.with { (server) async throws in
            let answer = try await F.dig(server, ["+edns=1", "+noednsnegotiation", "leader.disco", "A"])
            #expect(answer.contains("status: BADVERS"), "\(answer)")
        }
    }

    /// RFC 6891 §7: a query with an OPT record gets one back, NOTIMP included; without it dig
    /// warns "EDNS query returned status NOTIMP - retry with '+noedns'", the very sign resolvers
    /// read as "this server does not speak EDNS".
    @Test func otherOpcodesWithEDNSGetNOTIMPWithAnOPTRecord() async throws {
        try await F.with { (server) async throws in
            let answer = try await F.dig(server, ["+opcode=notify", "+dnssec", "disco", "SOA"])
            #expect(answer.contains("status: NOTIMP"), "\(answer)")
            #expect(answer.contains("; EDNS: version: 0, flags: do; udp: 1232"), "\(answer)")
            #expect(!answer.contains("WARNING: EDNS"), "\(answer)")
            let plain = try await F.dig(server, ["+opcode=notify", "+noedns", "disco", "SOA"])
            #expect(plain.contains("status: NOTIMP") && !plain.contains("OPT PSEUDOSECTION"), "\(plain)")
        }
    }
}
