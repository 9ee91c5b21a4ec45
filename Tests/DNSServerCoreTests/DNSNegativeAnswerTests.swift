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
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
