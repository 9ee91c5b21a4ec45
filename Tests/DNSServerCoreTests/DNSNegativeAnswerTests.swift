import DNSServerCore
import DiscoCore
import Testing

/// NXDOMAIN against NODATA, the SOA that makes both cacheable, and what is refused.
@Suite struct DNSNegativeAnswerTests {
    typealias Z = SampleZone

    /// The authority section of a negative answer: the apex SOA with TTL min(TTL, MINIMUM).
    func expectSOA(_ message: DNSMessage, ttl: UInt32 = 5, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(message.answers.isEmpty, sourceLocation: sourceLocation)
        #expect(DNSMessage.texts(message.authority) == ["SOA 1.node.disco hostmaster.disco 42 30"], sourceLocation: sourceLocation)
        #expect(message.authority.first?.name == Z.name("disco"), sourceLocation: sourceLocation)
        #expect(message.authority.first?.ttl == ttl, sourceLocation: sourceLocation)
        #expect(message.header.isAuthoritative, sourceLocation: sourceLocation)
    }

    @Test func missingNamesAreNXDOMAIN() throws {
        for name in ["9.node.disco.", "x.1.node.disco.", "nothing.disco.", "a.b.c.d.e.disco."] {
            let answer = try Z.ask(name, .a)
            #expect(answer.header.responseCode == .nameError, "\(name)")
            expectSOA(answer)
        }
    }

    @Test func existingNamesWithoutTheTypeAreNODATA() throws {
        for (name, type) in [("1.node.disco.", DNSRecordType.srv), ("2.node.disco.", .aaaa), ("_host._tcp.disco.", .a),
                             ("disco.", .a), ("leader.disco.", .txt)] {
            let answer = try Z.ask(name, type)
            #expect(answer.header.responseCode == .noError, "\(name) \(type)")
            expectSOA(answer)
        }
    }

    @Test func emptyNonTerminalsAreNODATA() throws {
        for name in ["node.disco.", "role.disco.", "_tcp.disco."] {
            for type in [DNSRecordType.a, .srv, DNSRecordType(rawValue: 255)] {
                let answer = try Z.ask(name, type)
                #expect(answer.header.responseCode == .noError, "\(name) \(type)")
                expectSOA(answer)
            }
        }
    }

    @Test func negativeTTLIsTheSmallerOfTheSOAsTTLAndMinimum() throws {
        let long = try DNSZoneSettings(domain: Z.name("disco"), ttl: 300, negativeTTL: 7)
        let zone = DNSZone(settings: long, source: Z.source)
        let answer = try Z.ask("9.node.disco.", .a, zone: zone)
        #expect(answer.authority.first?.ttl == 7)
        guard case .soa(let soa)? = answer.authority.first?.data else { throw Failure("no SOA") }
        #expect(soa.minimum == 7)
    }

    @Test func namesOutsideTheZoneAreRefusedWithOrWithoutRecursion() throws {
        for recursion in [true, false] {
            for name in ["example.com.", "disco.example.", "xdisco.", "."] {
                let answer = try Z.ask(Z.query(name, .a, edns: EDNS(), recursion: recursion))
                #expect(answer.header.responseCode == .refused, "\(name)")
                #expect(!answer.header.isAuthoritative && !answer.header.recursionAvailable)
                #expect(answer.header.recursionDesired == recursion)
                #expect(answer.answers.isEmpty && answer.authority.isEmpty)
                #expect(answer.edns != nil, "EDNS in, EDNS out")
            }
        }
    }

    @Test func otherClassesAndZoneTransfersAreRefused() throws {
        var chaos = DNSMessage.query(id: 7, name: Z.name("leader.disco"), type: .txt)
        chaos.questions[0].questionClass = 3
        #expect(try Z.ask(try chaos.encoded()).header.responseCode == .refused)
        for transfer: UInt16 in [251, 252] {
            #expect(try Z.ask(Z.query("disco.", DNSRecordType(rawValue: transfer)), over: .tcp).header.responseCode == .refused)
        }
    }

    @Test func anIXFRQueryCarryingItsSOAIsRefused() throws {
        // RFC 1995 §3: an IXFR query has the client's SOA in the authority section (dig sends
        // one for `IXFR=5`). It is a zone transfer, so REFUSED, not a malformed query.
        let soa = DNSResourceRecord(name: Z.name("disco"), type: .soa, ttl: 0, data: .soa(SOAData(
            primaryServer: .root, responsible: .root, serial: 5, refresh: 0, retry: 0, expire: 0, minimum: 0)))
        var ixfr = DNSMessage.query(id: 0x5151, name: Z.name("Disco"), type: DNSRecordType(rawValue: 251))
        ixfr.authority = [soa]
        for transport in DNSTransport.allCases {
            let answer = try Z.ask(try ixfr.encoded(), over: transport)
            #expect(answer.header.id == 0x5151 && answer.header.responseCode == .refused, "\(transport)")
            #expect(answer.questions == ixfr.questions && answer.questions.first?.name.labels == [Array("Disco".utf8)])
            #expect(answer.answers.isEmpty && answer.authority.isEmpty && !answer.header.isAuthoritative)
        }
        // Any other query with an authority record is still malformed.
        var other = DNSMessage.query(id: 0x5152, name: Z.name("disco"), type: .soa)
        other.authority = [soa]
        let formerr = try #require(DNSAnswerer().response(to: try other.encoded(), over: .udp, zone: Z.zone))
        #expect(formerr.count == 12 && formerr[3] & 0x0F == 1, "FORMERR, header only")
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
