import DNSServerCore
import Testing

/// Queries that are not well-formed standard queries: FORMERR, NOTIMP, BADVERS or silence.
@Suite struct DNSMalformedQueryTests {
    typealias Z = SampleZone
    let answerer = DNSAnswerer()

    func respond(_ bytes: [UInt8], over transport: DNSTransport = .udp) -> [UInt8]? {
        answerer.response(to: bytes, over: transport, zone: Z.zone)
    }

    /// A header-only answer with `code`, the query's ID and its opcode and RD bit.
    func expectHeaderOnly(_ query: [UInt8], code: DNSResponseCode, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let bytes = try #require(respond(query), sourceLocation: sourceLocation)
        let message = try DNSMessage(parsing: bytes)
        #expect(bytes.count == 12, sourceLocation: sourceLocation)
        #expect(message.header.id == UInt16(query[0]) << 8 | UInt16(query[1]), sourceLocation: sourceLocation)
        #expect(message.header.isResponse && message.header.responseCode == code, sourceLocation: sourceLocation)
        #expect(message.header.opcode == (query[2] >> 3) & 0xF, sourceLocation: sourceLocation)
        #expect(message.header.recursionDesired == (query[2] & 1 != 0), sourceLocation: sourceLocation)
    }

    @Test func tooShortOrResponsesGetNothing() {
        for length in 0..<12 {
            #expect(respond([UInt8](repeating: 0, count: length)) == nil)
        }
        var response = Z.query("leader.disco.", .a)
        response[2] |= 0x80
        #expect(respond(response) == nil, "a response must never be answered (no reflection loops)")
        #expect(respond(response, over: .tcp) == nil)
    }

    @Test func readableHeadersWithGarbageGetFORMERR() throws {
        let header: [UInt8] = [0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        try expectHeaderOnly(header, code: .formatError)  // the question is missing
        try expectHeaderOnly(header + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], code: .formatError)  // reserved label type
        try expectHeaderOnly(header + [0xC0, 0x0C, 0, 1, 0, 1], code: .formatError)  // a pointer in the question
        try expectHeaderOnly(header + [5, 0x61, 0x62], code: .formatError)  // a label cut short
        try expectHeaderOnly(header + [0, 0, 1], code: .formatError)  // type and class cut short
        let valid = Z.query("leader.disco.", .a)
        try expectHeaderOnly(valid + [0], code: .formatError)  // a trailing byte
        var two = valid
        two[5] = 2
        try expectHeaderOnly(two, code: .formatError)  // two questions announced
        var none = valid
        none[5] = 0
        try expectHeaderOnly(none, code: .formatError)  // no question announced
        var answers = valid
        answers[7] = 1
        try expectHeaderOnly(answers, code: .formatError)  // an answer record announced
        // 128 one-byte labels make a 257-byte name; 255 is the most DNS allows.
        var long: [UInt8] = header
        for _ in 0..<128 { long += [1, 0x61] }
        try expectHeaderOnly(long + [0, 0, 1, 0, 1], code: .formatError)
    }

    @Test func badOPTRecordsGetFORMERR() throws {
        let plain = Z.query("leader.disco.", .a)
        var withOPT = try #require(try? { () throws -> [UInt8] in
            try DNSMessage.query(id: 0x1234, name: Z.name("leader.disco"), type: .a, edns: EDNS(options: [EDNSOption(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8])])).encoded()
        }())
        #expect(try DNSMessage(parsing: try #require(respond(withOPT))).header.responseCode == .noError)
        withOPT[withOPT.count - 9] = 200  // the option claims 200 bytes
        try expectHeaderOnly(withOPT, code: .formatError)
        // Two OPT records (RFC 6891 §6.1.1).
        let opt: [UInt8] = [0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]
        var twice = plain + opt + opt
        twice[11] = 2
        try expectHeaderOnly(twice, code: .formatError)
        // An OPT owned by a name other than the root.
        var owned = plain + [1, 0x61, 0] + opt.dropFirst()
        owned[11] = 1
        try expectHeaderOnly(owned, code: .formatError)
        // OPT as the question type.
        try expectHeaderOnly(Z.query("leader.disco.", .opt), code: .formatError)
    }

    @Test func otherOpcodesGetNOTIMP() throws {
        var notify = Z.query("disco.", .soa)
        notify[2] = (notify[2] & 0x87) | (4 << 3)
        try expectHeaderOnly(notify, code: .notImplemented)
        var status = Z.query("disco.", .soa)
        status[2] = (status[2] & 0x87) | (2 << 3)
        try expectHeaderOnly(status, code: .notImplemented)
    }

    @Test func unknownEDNSVersionsGetBADVERS() throws {
        let answer = try Z.ask("leader.disco.", .a, edns: EDNS(version: 1))
        #expect(answer.header.responseCode == .noError && answer.answers.isEmpty && !answer.header.isAuthoritative)
        #expect(answer.edns?.extendedResponseCode == 1, "BADVERS is 16: 1 in the OPT's upper bits, 0 in the header")
        #expect(answer.edns?.version == 0)
    }

    @Test func otherAdditionalRecordsGoThroughTheStrictParser() throws {
        // A TXT record in the additional section (as TSIG would be) is read and ignored.
        var message = DNSMessage.query(id: 3, name: Z.name("leader.disco"), type: .a, edns: EDNS(udpPayloadSize: 4096))
        message.additional.insert(DNSResourceRecord(name: Z.name("key"), type: .txt, ttl: 0, data: .txt([[1]])), at: 0)
        let answer = try Z.ask(try message.encoded())
        #expect(answer.answerTexts == ["A 10.0.0.1"])
        #expect(answer.edns?.udpPayloadSize == 1232)
    }
}
