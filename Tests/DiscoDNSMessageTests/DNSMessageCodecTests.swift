import Testing
@testable import DiscoDNSMessage

/// Bytes of a name in wire form, uncompressed.
func wireName(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    for label in text.split(separator: ".") {
        out.append(UInt8(label.utf8.count))
        out += Array(label.utf8)
    }
    return out + [0]
}

/// A response header with the given counts (ID 0x1234, QR RD RA, NOERROR unless `rcode`).
func responseHeader(questions: UInt16 = 1, answers: UInt16 = 0, authority: UInt16 = 0, additional: UInt16 = 0, rcode: UInt8 = 0, truncated: Bool = false) -> [UInt8] {
    let flags: UInt16 = 0x8180 | UInt16(rcode) | (truncated ? 0x0200 : 0)
    return [0x12, 0x34, UInt8(flags >> 8), UInt8(flags & 0xFF)]
        + [questions, answers, authority, additional].flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
}

@Suite struct DNSMessageCodecTests {
    // MARK: Queries

    @Test func queryHasGoldenBytes() throws {
        let query = DNSMessage.query(id: 0xBEEF, name: try DNSName(parsing: "rqlite.local."), type: .srv)
        let expected: [UInt8] = [0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
            + [6] + Array("rqlite".utf8) + [5] + Array("local".utf8) + [0] + [0, 33, 0, 1]
        #expect(try query.encoded() == expected)
    }

    // MARK: Compression

    @Test func parsesCompressedAnswersOfEveryKind() throws {
        // Question at byte 12: _raft._tcp.disco.test SRV
        var bytes = responseHeader(answers: 3)
        bytes += wireName("_raft._tcp.disco.test") + [0, 33, 0, 1]
        // SRV, owner = pointer to the question name, target n1 + pointer to "disco.test" (byte 12 + 6 + 5)
        let domain: UInt8 = 12 + 6 + 5
        bytes += [0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 60]
        let target: [UInt8] = [2] + Array("n1".utf8) + [0xC0, domain]
        bytes += [0, UInt8(6 + target.count), 0, 10, 0, 5, 0x0F, 0xA1] + target
        let targetOffset = UInt8(bytes.count - target.count)
        // A for n1.disco.test (pointer to the SRV target) and AAAA, TTL with the top bit set.
        bytes += [0xC0, targetOffset, 0, 1, 0, 1, 0, 0, 1, 0, 0, 4, 10, 0, 0, 7]
        bytes += [0xC0, targetOffset, 0, 28, 0, 1, 0x80, 0, 0, 0, 0, 16, 0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]

        let message = try DNSMessage(parsing: bytes)
        #expect(message.header.id == 0x1234)
        #expect(message.header.isResponse)
        #expect(message.header.responseCode == .noError)
        #expect(message.questions == [DNSQuestion(name: try DNSName(parsing: "_raft._tcp.disco.test"), type: .srv)])
        let n1 = try DNSName(parsing: "N1.Disco.Test")  // case-insensitive
        #expect(message.answers[0].data == .srv(SRVData(priority: 10, weight: 5, port: 4001, target: n1)))
        #expect(message.answers[0].ttl == 60)
        #expect(message.answers[1].name == n1)
        #expect(message.answers[1].data == .address(try #require(DNSIPAddress(bytes: [10, 0, 0, 7]))))
        #expect(message.answers[1].ttl == 256)
        #expect(message.answers[2].ttl == 0, "a TTL with the top bit set reads as 0 (RFC 2181)")
        guard case .address(let v6) = message.answers[2].data else { Issue.record("AAAA not decoded"); return }
        #expect(v6.description == "2001:db8::1")
    }

    @Test func rejectsPointerToItself() throws {
        let bytes = responseHeader() + [0xC0, 12, 0, 1, 0, 1]
        let error = try #require(throws: DNSMessageError.self) { try DNSMessage(parsing: bytes) }
        #expect(error.code == .badPointer)
        #expect(error.offset == 12)
    }

    @Test func rejectsPointerLoopThroughLabels() throws {
        // byte 12: label "a", then pointer back to 12 — a loop that a simple backwards rule misses.
        let bytes = responseHeader() + [1, UInt8(ascii: "a"), 0xC0, 12, 0, 1, 0, 1]
        let error = try #require(throws: DNSMessageError.self) { try DNSMessage(parsing: bytes) }
        #expect(error.code == .badPointer)
    }

    @Test func rejectsForwardPointerAndPointerIntoHeader() throws {
        let forward = responseHeader() + [0xC0, 20, 0, 1, 0, 1, 0, 0, 0]
        #expect(throws: DNSMessageError.self) { try DNSMessage(parsing: forward) }
        let intoHeader = responseHeader() + [0xC0, 4, 0, 1, 0, 1]
        let error = try #require(throws: DNSMessageError.self) { try DNSMessage(parsing: intoHeader) }
        #expect(error.detail.contains("header"))
    }

    @Test func rejectsReservedLabelTypes() throws {
        for type: UInt8 in [0x40, 0x80] {
            let bytes = responseHeader() + [type | 1, 0, 0, 1, 0, 1]
            let error = try #require(throws: DNSMessageError.self) { try DNSMessage(parsing: bytes) }
            #expect(error.code == .reservedLabelType)
        }
    }

    @Test func rejectsNamesLongerThan255Bytes() throws {
        let longName = (0..<5).map { _ in String(repeating: "x", count: 60) }.joined(separator: ".")
        let bytes = responseHeader() + wireName(longName) + [0, 1, 0, 1]
        let error = try #require(throws: DNSMessageError.self) { try DNSMessage(parsing: bytes) }
        #expect(error.code == .nameTooLong)
    }

    // MARK: Truncation and lengths

    @Test func everyPrefixOfAValidResponseIsRejectedCleanly() throws {
        var bytes = responseHeader(answers: 1) + wireName("n1.disco.test") + [0, 1, 0, 1]
        bytes += [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 127, 0, 0, 1]
        #expect(throws: Never.self) { try DNSMessage(parsing: bytes) }
        for length in 0..<bytes.count {
            let error = try #require(throws: DNSMessageError.self) { try DNSMessage(parsing: Array(bytes[0..<length])) }
            #expect(error.code == .truncated, "prefix of \(length) bytes: \(error)")
        }
    }

    @Test func rejectsAddressWithWrongLength() throws {
        let bytes = responseHeader(questions: 0, answers: 1) + wireName("n1") + [0, 1, 0, 1, 0, 0, 0, 30, 0, 5, 1, 2, 3, 4, 5]
        let error = try #require(throws: DNSMessageError.self) { try DNSMessage(parsing: bytes) }
        #expect(error.code == .badRecordData)
        #expect(error.detail.contains("expected 4"))
    }

    @Test func rejectsRDataLengthThatDisagreesWithTheName() throws {
        // CNAME whose RDLENGTH (10) is longer than the name inside it (4 bytes).
        let bytes = responseHeader(questions: 0, answers: 1) + wireName("a") + [0, 5, 0, 1, 0, 0, 0, 30, 0, 10] + wireName("cc") + [0, 0, 0, 0, 0, 0]
        let error = try #require(throws: DNSMessageError.self) { try DNSMessage(parsing: bytes) }
        #expect(error.code == .badRecordData)
    }

    @Test func rejectsTrailingBytesAndImpossibleCounts() throws {
        let trailing = responseHeader() + wireName("a") + [0, 1, 0, 1, 0xFF]
        #expect((try? DNSMessage(parsing: trailing)) == nil)
        let huge = responseHeader(questions: 1, answers: 65_535) + wireName("a") + [0, 1, 0, 1]
        let error = try #require(throws: DNSMessageError.self) { try DNSMessage(parsing: huge) }
        #expect(error.code == .truncated)
    }

    @Test func headerOnlyParseSeesTruncation() throws {
        let header = try DNSMessage.parseHeader(responseHeader(answers: 9, truncated: true))
        #expect(header.isTruncated)
        #expect(header.responseCode == .noError)
        #expect(try DNSMessage.parseHeader(responseHeader(rcode: 3)).responseCode == .nameError)
        #expect(try DNSMessage.parseHeader(responseHeader(rcode: 2)).responseCode.description == "SERVFAIL")
    }

    // MARK: Round trip

    @Test func encodedMessagesParseBack() throws {
        let name = try DNSName(parsing: "_svc._tcp.disco.test")
        let target = try DNSName(parsing: "n1.disco.test")
        let message = DNSMessage(
            header: DNSHeader(id: 7, flags: 0x8580),
            questions: [DNSQuestion(name: name, type: .srv)],
            answers: [DNSResourceRecord(name: name, type: .srv, ttl: 5, data: .srv(SRVData(priority: 1, weight: 2, port: 3, target: target)))],
            authority: [DNSResourceRecord(name: name, type: DNSRecordType(rawValue: 99), ttl: 5, data: .other([1, 2, 3]))],
            additional: [
                DNSResourceRecord(name: target, type: .a, ttl: 5, data: .address(try #require(DNSIPAddress(bytes: [10, 0, 0, 1])))),
                DNSResourceRecord(name: target, type: .cname, ttl: 5, data: .cname(.root)),
            ])
        #expect(try DNSMessage(parsing: message.encoded()) == message)
    }
}
