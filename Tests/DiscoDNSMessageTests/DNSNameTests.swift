import Testing
@testable import DiscoDNSMessage

@Suite struct DNSNameTests {
    @Test func parsesAndPrints() throws {
        #expect(try DNSName(parsing: "rqlite.local.").description == "rqlite.local")
        #expect(try DNSName(parsing: ".").isRoot)
        #expect(try DNSName(parsing: "A.B") == DNSName(parsing: "a.b"))
        #expect(try DNSName(parsing: "A.B").hashValue == DNSName(parsing: "a.b").hashValue)
        #expect(try DNSName(parsing: "disco.test").prepending(["_raft", "_tcp"]).description == "_raft._tcp.disco.test")
    }

    @Test(arguments: ["", "a..b", ".a", "a b", String(repeating: "x", count: 64) + ".test", "a\\.b"])
    func rejectsInvalidNames(_ text: String) {
        #expect(throws: DNSMessageError.self) { try DNSName(parsing: text) }
    }

    @Test func rejectsNamesOver255Bytes() throws {
        let name = (0..<4).map { _ in String(repeating: "y", count: 63) }.joined(separator: ".")
        let error = try #require(throws: DNSMessageError.self) { try DNSName(parsing: name) }
        #expect(error.code == .nameTooLong)
    }

    @Test func escapesUnprintableLabelBytes() throws {
        let name = try DNSName(labels: [[UInt8(ascii: "a"), UInt8(ascii: "."), 7]])
        #expect(name.description == "a\\.\\007")
    }

    @Test func formatsIPv6PerRFC5952() throws {
        func v6(_ groups: [UInt16]) throws -> String {
            try #require(DNSIPAddress(bytes: groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] })).description
        }
        #expect(try v6([0, 0, 0, 0, 0, 0, 0, 1]) == "::1")
        #expect(try v6([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]) == "2001:db8::1:0:0:1")
        #expect(try v6([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]) == "2001:db8:0:1:1:1:1:1")
        #expect(try v6([0, 0, 0, 0, 0, 0, 0, 0]) == "::")
        #expect(DNSIPAddress(bytes: [1, 2, 3]) == nil)
    }
}
