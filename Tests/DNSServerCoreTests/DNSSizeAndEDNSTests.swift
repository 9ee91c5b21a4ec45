import DNSServerCore
import DiscoCore
import Testing

/// EDNS, UDP sizes, truncation, TCP, the amplification bound, case and rotation.
@Suite struct DNSSizeAndEDNSTests {
    typealias Z = SampleZone

    /// A role performed by `count` members 10.1.x.y, each with an API port.
    static func bigZone(_ count: Int) -> DNSZone {
        let members = (0..<count).map { index in
            DNSZoneMember(id: NodeID("m\(index)")!, addresses: [Z.ip("10.1.\(index / 256).\(index % 256)")], apiPort: 5000, roles: ["big"])
        }
        return DNSZone(settings: Z.settings, source: DNSZoneSource(members: members))
    }

    @Test func answersWithEDNSCarryOPTAndCopyDO() throws {
        let answer = try Z.ask("leader.disco.", .a, edns: EDNS(udpPayloadSize: 4096, dnssecOK: true))
        #expect(answer.edns == EDNS(udpPayloadSize: 1232, dnssecOK: true))
        let plain = try Z.ask("leader.disco.", .a, edns: nil)
        #expect(plain.edns == nil && plain.answerTexts == ["A 10.0.0.1"])
    }

    @Test func questionCaseIsEchoedAndNamesMatchWithoutCase() throws {
        let query = Z.query("LeAdEr.DiScO.", .a)
        let bytes = try #require(DNSAnswerer().response(to: query, over: .udp, zone: Z.zone))
        #expect(Array(bytes[12..<(12 + 14)]) == Array(query[12..<(12 + 14)]), "question bytes echoed as sent")
        let message = try DNSMessage(parsing: bytes)
        #expect(message.answers.first?.name.description == "LeAdEr.DiScO", "the owner points at the question")
        #expect(message.answerTexts == ["A 10.0.0.1"])
    }

    @Test func udpAnswersFitTheClientsSizeAndTCPAnswersAreComplete() throws {
        let zone = Self.bigZone(200)  // 200 A records: 3,200 bytes
        for (edns, limit) in [(nil, 512), (EDNS(udpPayloadSize: 100), 512), (EDNS(udpPayloadSize: 700), 700),
                              (EDNS(udpPayloadSize: 1232), 1232), (EDNS(udpPayloadSize: 4096), 1232)] as [(EDNS?, Int)] {
            // Long query names keep the amplification bound out of the way here.
            let query = Z.query("big.role.disco.", .a, edns: edns.map { var e = $0; e.options = [EDNSOption(code: 65001, data: Array(repeating: 0, count: 120))]; return e })
            let bytes = try #require(DNSAnswerer().response(to: query, over: .udp, zone: zone))
            #expect(bytes.count <= limit && bytes.count > limit - 16, "\(String(describing: edns)): \(bytes.count) bytes")
            let message = try DNSMessage(parsing: bytes)
            #expect(message.header.isTruncated)
            #expect(message.answers.count == (limit - 12 - 20 - (edns == nil ? 0 : 11)) / 16)
            #expect((message.edns != nil) == (edns != nil))
        }
        let full = try Z.ask("big.role.disco.", .a, over: .tcp, zone: zone)
        #expect(!full.header.isTruncated && full.answers.count == 200)
        #expect(Set(full.answers.map(\.data)).count == 200)
    }

    @Test func srvAnswersDropGlueBeforeRecordsAndSetTCOnlyWhenRecordsAreCut() throws {
        let zone = Self.bigZone(30)
        let tcp = try Z.ask("_big._tcp.disco.", .srv, over: .tcp, zone: zone)
        #expect(tcp.answers.count == 30 && tcp.additional.count == 31 && !tcp.header.isTruncated)
        let udp = try Z.ask("_big._tcp.disco.", .srv, edns: EDNS(udpPayloadSize: 1232, options: [EDNSOption(code: 65001, data: Array(repeating: 0, count: 100))]), zone: zone)
        #expect(udp.answers.count == 30 && !udp.header.isTruncated, "all SRV records fit 1232 bytes")
        #expect(udp.additional.count > 1 && udp.additional.count < 31, "glue is cut without TC")
        let small = try Z.ask("_big._tcp.disco.", .srv, edns: nil, zone: zone)
        #expect(small.header.isTruncated && small.answers.count < 30 && small.additional.isEmpty)
    }

    @Test func udpAnswersAreAtMostTenTimesTheQueryAbove512Bytes() throws {
        let zone = Self.bigZone(200)
        let query = Z.query("big.role.disco.", .a, edns: EDNS(udpPayloadSize: 1232))
        #expect(query.count == 43)
        let bytes = try #require(DNSAnswerer().response(to: query, over: .udp, zone: zone))
        #expect(bytes.count <= 512, "43-byte query: at most max(512, 430) bytes, not the 1232 advertised")
        let strict = DNSAnswerer(limits: try DNSAnswerLimits(maxUDPPayloadSize: 1232, amplificationFactor: 1))
        let padded = Z.query("big.role.disco.", .a, edns: EDNS(udpPayloadSize: 1232, options: [EDNSOption(code: 65001, data: Array(repeating: 0, count: 600))]))
        let capped = try #require(strict.response(to: padded, over: .udp, zone: zone))
        #expect(capped.count <= padded.count && capped.count > 512)
    }

    @Test func addressAnswersRotateWithTheQueryID() throws {
        let zone = Self.bigZone(5)
        var firsts = Set<DNSRecordData>()
        for id in UInt16(0)..<10 {
            let answer = try Z.ask(Z.query("big.role.disco.", .a, id: id), zone: zone)
            #expect(answer.answers.count == 5 && Set(answer.answers.map(\.data)).count == 5)
            if let first = answer.answers.first { firsts.insert(first.data) }
        }
        #expect(firsts.count == 5, "each member comes first for some query IDs")
    }

    @Test func outputBuffersSmallerThan512BytesAreRefused() {
        var output = [UInt8](repeating: 0, count: 100)
        let query = Z.query("leader.disco.", .a)
        let answer = query.withUnsafeBytes { q in output.withUnsafeMutableBytes { DNSAnswerer().respond(to: q, over: .udp, zone: Z.zone, into: $0) } }
        #expect(answer.outcome == .dropped && answer.length == 0)
    }

    @Test func settingsAreValidatedWithTheFlagNamed() {
        #expect(throws: DNSSettingsError.self) { try DNSZoneSettings(domain: ".", ttl: .seconds(5)) }
        #expect(throws: DNSSettingsError.self) { try DNSZoneSettings(domain: "under_score.", ttl: .seconds(5)) }
        #expect(throws: DNSSettingsError.self) { try DNSZoneSettings(domain: "disco.", ttl: .milliseconds(1500)) }
        #expect(throws: DNSSettingsError.self) { try DNSZoneSettings(domain: "disco.", ttl: .seconds(-1)) }
        #expect(throws: DNSSettingsError.self) { try DNSAnswerLimits(maxUDPPayloadSize: 100) }
        do {
            _ = try DNSZoneSettings(domain: "a..b", ttl: .seconds(5))
            Issue.record("a..b was accepted")
        } catch {
            #expect(error.description.hasPrefix("-dns-domain: \"a..b\" is not a domain name"), "\(error)")
        }
        do {
            _ = try DNSZoneSettings(domain: "disco.", ttl: .milliseconds(1500))
        } catch {
            #expect(error.description.contains("-dns-ttl") && error.description.contains("whole number of seconds"), "\(error)")
        }
    }
}
