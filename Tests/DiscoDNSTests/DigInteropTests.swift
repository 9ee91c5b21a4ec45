import DiscoDNS
import DiscoTestKit
import Foundation
import Testing

/// The codec's builder judged by a real client: dig (BIND 9) asks a ``TestZoneServer``.
@Suite(.serialized) struct DigInteropTests {
    static let dig = "/usr/bin/dig"

    static func zone() throws -> (records: [DNSResourceRecord], soa: DNSResourceRecord) {
        func name(_ text: String) throws -> DNSName { try DNSName(parsing: text) }
        func a(_ owner: String, _ bytes: [UInt8]) throws -> DNSResourceRecord {
            DNSResourceRecord(name: try name(owner), type: bytes.count == 4 ? .a : .aaaa, ttl: 30, data: .address(try #require(DNSIPAddress(bytes: bytes))))
        }
        let soa = DNSResourceRecord(name: try name("disco.test"), type: .soa, ttl: 3600, data: .soa(SOAData(
            primaryServer: try name("ns.disco.test"), responsible: try name("hostmaster.disco.test"), serial: 2026, minimum: 60)))
        var records: [DNSResourceRecord] = [
            DNSResourceRecord(name: try name("disco.test"), type: .ns, ttl: 30, data: .ns(try name("ns.disco.test"))),
            try a("ns.disco.test", [10, 0, 0, 53]),
            try a("n1.disco.test", [10, 0, 0, 1]),
            try a("n1.disco.test", [0xfd, 0] + [UInt8](repeating: 0, count: 13) + [1]),
            DNSResourceRecord(name: try name("n1.disco.test"), type: .txt, ttl: 30, data: .txt([Array("role=voter".utf8), Array("zone=a".utf8)])),
            DNSResourceRecord(name: try name("db.disco.test"), type: .cname, ttl: 30, data: .cname(try name("n1.disco.test"))),
            DNSResourceRecord(name: try name("_disco._tcp.disco.test"), type: .srv, ttl: 30,
                              data: .srv(SRVData(priority: 0, weight: 5, port: 4001, target: try name("n1.disco.test")))),
        ]
        records += try (1...90).map { try a("many.disco.test", [10, 1, 0, UInt8($0)]) }
        return (records, soa)
    }

    /// dig's full output for `arguments` against the server.
    func dig(_ server: TestZoneServer, _ arguments: [String]) async throws -> String {
        let process = ChildProcess(name: "dig", executable: Self.dig,
                                   arguments: ["@127.0.0.1", "-p", "\(server.port)", "+tries=3", "+time=10"] + arguments)
        try process.start()
        let status = try await process.waitForExit(timeout: .seconds(60))
        #expect(status == 0, "dig \(arguments): \(process.output)")
        return process.output
    }

    @Test func digReadsAnswersNegativeAnswersEDNSAndTruncation() async throws {
        let (records, soa) = try Self.zone()
        let server = try await TestZoneServer(zone: records, soa: soa)

        let a = try await dig(server, ["n1.disco.test", "A"])
        #expect(a.contains("status: NOERROR") && a.contains("flags: qr aa rd;"), "\(a)")
        #expect(a.contains("n1.disco.test.\t\t30\tIN\tA\t10.0.0.1"), "\(a)")
        #expect(a.contains("; EDNS: version: 0, flags:; udp: 1232"), "\(a)")

        let cname = try await dig(server, ["db.disco.test", "AAAA"])
        #expect(cname.contains("db.disco.test.\t\t30\tIN\tCNAME\tn1.disco.test."), "\(cname)")
        #expect(cname.contains("n1.disco.test.\t\t30\tIN\tAAAA\tfd00::1"), "\(cname)")

        let txt = try await dig(server, ["n1.disco.test", "TXT"])
        #expect(txt.contains("\"role=voter\" \"zone=a\""), "\(txt)")

        let srv = try await dig(server, ["_disco._tcp.disco.test", "SRV"])
        #expect(srv.contains("IN\tSRV\t0 5 4001 n1.disco.test."), "\(srv)")
        #expect(srv.contains(";; ADDITIONAL SECTION:\nn1.disco.test.\t\t30\tIN\tA\t10.0.0.1"), "\(srv)")

        let ns = try await dig(server, ["disco.test", "NS"])
        #expect(ns.contains("disco.test.\t\t30\tIN\tNS\tns.disco.test."), "\(ns)")
        #expect(ns.contains("ns.disco.test.\t\t30\tIN\tA\t10.0.0.53"), "\(ns)")

        let nxdomain = try await dig(server, ["n9.disco.test", "A"])
        #expect(nxdomain.contains("status: NXDOMAIN") && nxdomain.contains("flags: qr aa rd;"), "\(nxdomain)")
        #expect(nxdomain.contains(";; AUTHORITY SECTION:\ndisco.test.\t\t60\tIN\tSOA\tns.disco.test. hostmaster.disco.test. 2026 3600 600 86400 60"), "\(nxdomain)")

        let nodata = try await dig(server, ["n1.disco.test", "SRV"])
        #expect(nodata.contains("status: NOERROR") && nodata.contains("ANSWER: 0, AUTHORITY: 1"), "\(nodata)")

        let badvers = try await dig(server, ["+edns=1", "+noednsnegotiation", "n1.disco.test", "A"])
        #expect(badvers.contains("status: BADVERS"), "\(badvers)")

        // 90 answers need 1,500 bytes: over UDP they are cut with TC, and dig's TCP retry gets all.
        let truncated = try await dig(server, ["+ignore", "many.disco.test", "A"])
        #expect(truncated.contains("flags: qr aa tc rd;"), "\(truncated)")
        #expect(try #require(messageSize(truncated)) <= 1232, "\(truncated)")
        let plain = try await dig(server, ["+ignore", "+noedns", "many.disco.test", "A"])
        #expect(plain.contains("flags: qr aa tc rd;") && !plain.contains("; EDNS:"), "\(plain)")
        #expect(try #require(messageSize(plain)) <= 512, "\(plain)")
        let full = try await dig(server, ["many.disco.test", "A"])
        #expect(full.contains("Truncated, retrying in TCP mode."), "\(full)")
        #expect(full.contains("ANSWER: 90,") && full.contains("10.1.0.90"), "\(full)")
        // Compressed: each answer's owner is a 2-byte pointer, far below 90 names written out.
        #expect(try #require(messageSize(full)) < 90 * (16 + 10) + 100, "\(full)")

        await server.stop()
    }

    /// `;; MSG SIZE  rcvd: N`
    func messageSize(_ output: String) -> Int? {
        output.split(separator: "\n").first { $0.hasPrefix(";; MSG SIZE  rcvd: ") }.flatMap { Int($0.dropFirst(19)) }
    }
}
