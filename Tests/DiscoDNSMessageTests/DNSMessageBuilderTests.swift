import Testing
@testable import DiscoDNSMessage

/// The builder side of the codec, as an authoritative server uses it: compression, every record
/// type, EDNS, negative answers and truncation for UDP.
@Suite struct DNSMessageBuilderTests {
    func name(_ text: String) throws -> DNSName { try DNSName(parsing: text) }

    func a(_ owner: String, _ last: UInt8, ttl: UInt32 = 30) throws -> DNSResourceRecord {
        DNSResourceRecord(name: try name(owner), type: .a, ttl: ttl, data: .address(try #require(DNSIPAddress(bytes: [10, 0, 0, last]))))
    }

    func soa(ttl: UInt32 = 3600, minimum: UInt32 = 60) throws -> DNSResourceRecord {
        DNSResourceRecord(name: try name("disco.test"), type: .soa, ttl: ttl, data: .soa(SOAData(
            primaryServer: try name("ns.disco.test"), responsible: try name("hostmaster.disco.test"), serial: 7, minimum: minimum)))
    }

    func query(_ owner: String, _ type: DNSRecordType, edns: EDNS? = nil) throws -> DNSMessage {
        DNSMessage.query(id: 0x4242, name: try name(owner), type: type, edns: edns)
    }

    // MARK: Compression

    @Test func compressedAnswerHasGoldenBytes() throws {
        let message = DNSMessage.answer(to: try query("n1.disco.test", .a), answers: [try a("n1.disco.test", 9)])
        let question = [2] + Array("n1".utf8) + [5] + Array("disco".utf8) + [4] + Array("test".utf8) + [0]
        let expected: [UInt8] = [0x42, 0x42, 0x85, 0x00, 0, 1, 0, 1, 0, 0, 0, 0] + question + [0, 1, 0, 1]
            + [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 9]
        #expect(try message.encoded() == expected)
        #expect(try message.encoded(compression: false).count == expected.count + question.count - 2)
    }

    @Test func compressionRoundTripsEveryRecordTypeAndShrinksTheMessage() throws {
        let zone = try name("disco.test")
        let records: [DNSResourceRecord] = [
            try a("n1.disco.test", 1), try a("n2.disco.test", 2),
            DNSResourceRecord(name: try name("n1.disco.test"), type: .aaaa, ttl: 30, data: .address(try #require(DNSIPAddress(bytes: [0x20, 0x01] + [UInt8](repeating: 0, count: 13) + [1])))),
            DNSResourceRecord(name: try name("db.disco.test"), type: .cname, ttl: 30, data: .cname(try name("n2.disco.test"))),
            DNSResourceRecord(name: zone, type: .ns, ttl: 30, data: .ns(try name("ns.disco.test"))),
            DNSResourceRecord(name: try name("_disco._tcp.disco.test"), type: .srv, ttl: 30,
                              data: .srv(SRVData(priority: 1, weight: 2, port: 4001, target: try name("n1.disco.test")))),
            DNSResourceRecord(name: try name("n1.disco.test"), type: .txt, ttl: 30, data: .txt([Array("role=voter".utf8), [], Array(repeating: 0x41, count: 255)])),
            try soa(),
        ]
        let message = DNSMessage(header: DNSHeader(id: 1, flags: 0x8400), questions: [DNSQuestion(name: zone, type: .ns)],
                                 answers: Array(records[0..<4]), authority: Array(records[4...]), additional: [EDNS(dnssecOK: true).record])
        let compressed = try message.encoded()
        let plain = try message.encoded(compression: false)
        #expect(compressed.count < plain.count - 60, "\(compressed.count) vs \(plain.count)")
        #expect(try DNSMessage(parsing: compressed) == message)
        #expect(try DNSMessage(parsing: plain) == message)
    }

    @Test func compressionKeepsTheCaseOfEveryName() throws {
        let upper = try name("N1.Disco.TEST")
        let lower = try name("n1.disco.test")
        let message = DNSMessage(header: DNSHeader(id: 1, flags: 0x8400), questions: [DNSQuestion(name: upper, type: .a)],
                                 answers: [try a("n1.disco.test", 1), try a("N1.Disco.TEST", 2)])
        let parsed = try DNSMessage(parsing: try message.encoded())
        #expect(parsed.questions[0].name.labels == upper.labels)
        #expect(parsed.answers[0].name.labels == lower.labels, "not folded into the question's spelling")
        #expect(parsed.answers[1].name.labels == upper.labels)
    }

    @Test func srvTargetsAreNeverCompressed() throws {
        let target = try name("n1.disco.test")
        let srv = DNSResourceRecord(name: try name("_disco._tcp.disco.test"), type: .srv, ttl: 30,
                                    data: .srv(SRVData(priority: 0, weight: 0, port: 4001, target: target)))
        let bytes = try DNSMessage.answer(to: try query("n1.disco.test", .a), answers: [srv]).encoded()
        let wire = [2] + Array("n1".utf8) + [5] + Array("disco".utf8) + [4] + Array("test".utf8) + [0]
        #expect(Array(bytes.suffix(wire.count)) == wire, "RFC 2782: the target is written out in full")
    }

    @Test func writingDataOfTheWrongTypeIsRefusedWithWhatIsWrong() throws {
        let owner = try name("n1.disco.test")
        let cases: [(DNSResourceRecord, String)] = [
            (DNSResourceRecord(name: owner, type: .cname, ttl: 1, data: .address(try #require(DNSIPAddress(bytes: [1, 2, 3, 4])))), "its data is A data"),
            (DNSResourceRecord(name: owner, type: .a, ttl: 1, data: .other([1, 2, 3, 4])), "raw bytes given for a type the codec decodes"),
            (DNSResourceRecord(name: owner, type: .txt, ttl: 1, data: .txt([])), "no character-string"),
            (DNSResourceRecord(name: owner, type: .txt, ttl: 1, data: .txt([Array(repeating: 1, count: 256)])), "a character-string of 256 bytes; at most 255"),
            (DNSResourceRecord(name: owner, type: .ns, recordClass: 3, ttl: 1, data: .ns(owner)), "class 3 given"),
        ]
        for (record, detail) in cases {
            let message = DNSMessage(header: DNSHeader(id: 1, flags: 0x8000), questions: [], answers: [record])
            let error = #expect(throws: DNSMessageError.self) { try message.encoded() }
            #expect(error?.code == .badRecordData)
            #expect(error?.detail.contains(detail) == true, "\(String(describing: error))")
        }
        let huge = DNSMessage(header: DNSHeader(id: 1, flags: 0x8000), questions: [],
                              answers: (0..<300).map { _ in DNSResourceRecord(name: owner, type: DNSRecordType(rawValue: 99), ttl: 1, data: .other([UInt8](repeating: 0, count: 250))) })
        #expect(throws: DNSMessageError.self) { try huge.encoded() }
    }

    // MARK: EDNS

    @Test func ednsRoundTripsThroughTheOPTRecord() throws {
        var edns = EDNS(udpPayloadSize: 4096, extendedResponseCode: 0x80, version: 0, dnssecOK: true,
                        options: [EDNSOption(code: 10, data: [1, 2, 3, 4, 5, 6, 7, 8]), EDNSOption(code: 12, data: [])])
        let query = try query("n1.disco.test", .a, edns: edns)
        let bytes = try query.encoded()
        // The OPT record: root owner, TYPE 41, CLASS = payload size, TTL = ext. RCODE, version, DO.
        let opt: [UInt8] = [0, 0, 41, 0x10, 0x00, 0x80, 0, 0x80, 0, 0, 16, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 12, 0, 0]
        #expect(Array(bytes.suffix(opt.count)) == opt)
        let parsed = try DNSMessage(parsing: bytes)
        #expect(parsed.edns == edns, "the TTL's top bit is EDNS data, not a negative TTL")
        #expect(parsed.udpResponseLimit() == 1232)
        #expect(parsed.udpResponseLimit(cappedAt: 8192) == 4096)
        edns.udpPayloadSize = 100
        #expect(try self.query("a", .a, edns: edns).udpResponseLimit() == 512)
        #expect(try self.query("a", .a).udpResponseLimit() == 512)
        var removed = parsed
        removed.edns = nil
        #expect(removed.additional.isEmpty)
    }

    @Test func misplacedOrRepeatedOPTRecordsAreRefused() throws {
        let opt = EDNS().record
        var header = DNSHeader(id: 1, flags: 0x8000)
        header.isResponse = true
        let cases: [(DNSMessage, String)] = [
            (DNSMessage(header: header, questions: [], answers: [opt]), "in the answer section"),
            (DNSMessage(header: header, questions: [], additional: [opt, opt]), "2 OPT pseudo-records"),
            (DNSMessage(header: header, questions: [], additional: [DNSResourceRecord(name: try name("x"), type: .opt, recordClass: 512, ttl: 0, data: .opt([]))]),
             "owned by x"),
        ]
        for (message, detail) in cases {
            let error = #expect(throws: DNSMessageError.self) { try DNSMessage(parsing: try message.encoded()) }
            #expect(error?.detail.contains(detail) == true, "\(String(describing: error))")
        }
        // An option whose length runs past the record.
        var bytes = try DNSMessage(header: header, questions: [], additional: [EDNS(options: [EDNSOption(code: 3, data: [1, 2])]).record]).encoded()
        bytes[bytes.count - 3] = 9
        let error = #expect(throws: DNSMessageError.self) { try DNSMessage(parsing: bytes) }
        #expect(error?.detail.contains("option 3 of 9 bytes runs past its RDLENGTH") == true, "\(String(describing: error))")
    }

    // MARK: Responses

    @Test func responseEchoesTheQuery() throws {
        var query = try query("n1.disco.test", .a, edns: EDNS(udpPayloadSize: 4096))
        query.header.checkingDisabled = true
        let response = DNSMessage.answer(to: query, answers: [try a("n1.disco.test", 1)])
        #expect(response.header.id == 0x4242)
        #expect(response.header.isResponse && response.header.isAuthoritative && response.header.recursionDesired)
        #expect(response.header.checkingDisabled && !response.header.recursionAvailable && !response.header.isTruncated)
        #expect(response.questions == query.questions)
        #expect(response.edns == EDNS(udpPayloadSize: 1232))
        #expect(try DNSMessage(parsing: response.encoded()) == response)
    }

    @Test func nameErrorAndNoDataCarryTheSOAWithItsNegativeTTL() throws {
        let query = try query("n9.disco.test", .a)
        let nxdomain = DNSMessage.nameError(to: query, soa: try soa(ttl: 3600, minimum: 60))
        #expect(nxdomain.header.responseCode == .nameError && nxdomain.header.isAuthoritative)
        #expect(nxdomain.answers.isEmpty)
        #expect(nxdomain.authority.map(\.type) == [.soa])
        #expect(nxdomain.authority.first?.ttl == 60, "min(TTL, MINIMUM), RFC 2308 §3")
        let parsed = try DNSMessage(parsing: nxdomain.encoded())
        #expect(parsed == nxdomain)

        let nodata = DNSMessage.noData(to: try self.query("n1.disco.test", .aaaa), soa: try soa(ttl: 30, minimum: 300))
        #expect(nodata.header.responseCode == .noError && nodata.answers.isEmpty)
        #expect(nodata.authority.first?.ttl == 30)
        #expect(try DNSMessage(parsing: nodata.encoded()) == nodata)
    }

    @Test func anUnknownEDNSVersionGetsBADVERS() throws {
        let response = DNSMessage.response(to: try query("n1.disco.test", .a, edns: EDNS(version: 1)))
        #expect(response.edns?.extendedResponseCode == 1)
        #expect(response.header.responseCode == .noError)
        #expect(response.edns?.version == 0)
    }

    // MARK: Truncation

    @Test func answersThatDoNotFitSetTCAndKeepTheOPTRecord() throws {
        let query = try query("many.disco.test", .a, edns: EDNS(udpPayloadSize: 512))
        let answers = try (1...60).map { try a("many.disco.test", UInt8($0)) }
        let response = DNSMessage.answer(to: query, answers: answers, additional: [try a("glue.disco.test", 200)])
        let full = try response.encoded()
        #expect(full.count > 512)
        let bytes = try response.encoded(limit: query.udpResponseLimit())
        #expect(bytes.count <= 512)
        let parsed = try DNSMessage(parsing: bytes)
        #expect(parsed.header.isTruncated)
        #expect(parsed.answers.count > 10 && parsed.answers.count < 60)
        #expect(parsed.answers == Array(answers.prefix(parsed.answers.count)), "whole records, in order")
        #expect(parsed.edns == response.edns, "the OPT record stays")
        #expect(!parsed.additional.contains { $0.type == .a }, "no glue after a truncated answer")
        #expect(try DNSMessage(parsing: response.encoded(limit: 65535)) == response, "a limit that fits changes nothing")
    }

    @Test func additionalRecordsThatDoNotFitAreLeftOutWithoutTC() throws {
        let query = try query("svc.disco.test", .a)
        let answers = try (1...3).map { try a("svc.disco.test", UInt8($0)) }
        let glue = try (1...40).map { try a("glue\($0).disco.test", UInt8($0)) }
        let bytes = try DNSMessage.answer(to: query, answers: answers, additional: glue).encoded(limit: 512)
        let parsed = try DNSMessage(parsing: bytes)
        #expect(!parsed.header.isTruncated)
        #expect(parsed.answers == answers)
        #expect(!parsed.additional.isEmpty && parsed.additional.count < 40)
        #expect(parsed.additional == Array(glue.prefix(parsed.additional.count)))
    }

    @Test func aLimitTooSmallForTheQuestionIsAnError() throws {
        let response = DNSMessage.answer(to: try query("n1.disco.test", .a, edns: EDNS()), answers: [])
        let error = #expect(throws: DNSMessageError.self) { try response.encoded(limit: 30) }
        #expect(error?.code == .tooLarge)
        #expect(error?.detail.contains("the limit is 30") == true)
    }
}
