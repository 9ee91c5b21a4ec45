import DNSServerCore
import DiscoCore
import DiscoTestKit
import Testing

/// The answerer against a plain model of the zone: random clusters, every name and type, EDNS
/// sizes, both transports, random case. The model is ``DNSZoneContents`` read the obvious way.
@Suite struct DNSAnswererModelTests {
    typealias Z = SampleZone

    static func randomSource(_ random: inout DeterministicRandom) -> DNSZoneSource {
        let roles = ["host", "dns", "web", "db"]
        let count = Int.random(in: 0...40, using: &random)
        var members: [DNSZoneMember] = []
        for index in 0..<count {
            var addresses: [DNSIPAddress] = []
            if Bool.random(using: &random) || index % 7 == 0 { addresses.append(Z.ip("10.\(index % 3).0.\(index)")) }
            if Bool.random(using: &random) { addresses.append(Z.ip("fd00::\(String(index + 1, radix: 16))")) }
            let id = NodeID(Bool.random(using: &random) ? "n\(index)" : "Node_\(index)")!
            members.append(DNSZoneMember(
                id: id, addresses: addresses, apiPort: UInt16.random(in: 0...3, using: &random) == 0 ? 0 : UInt16(4000 + index),
                roles: roles.filter { _ in Bool.random(using: &random) }, state: DNSMemberState.allCases.randomElement(using: &random)!))
        }
        let leader = members.randomElement(using: &random)?.id
        let servers = members.filter { _ in Int.random(in: 0..<4, using: &random) == 0 }.map(\.id)
        return DNSZoneSource(members: members, leader: leader, nameServers: servers, serial: UInt32.random(in: 1...1000, using: &random))
    }

    static func randomCase(_ name: DNSName, _ random: inout DeterministicRandom) -> String {
        String(name.description.map { Bool.random(using: &random) ? Character($0.uppercased()) : $0 }) + "."
    }

    @Test(arguments: 0..<40)
    func answersMatchTheModel(seed: UInt64) async throws {
        // Off the cooperative pool: each seed is seconds of work in a debug build.
        try await CPUBoundWork.runTest {
            var random = DeterministicRandom(seed: seed)
            let zone = DNSZone(settings: Z.settings, source: Self.randomSource(&random))
            let contents = zone.contents
            var names = Array(contents.names.keys)
            names += ["missing.disco", "x.leader.disco", "web.role.disco", "_web._tcp.disco", "example.com", "disco.com"].map(Z.name)
            let types: [DNSRecordType] = [.a, .aaaa, .srv, .ns, .soa, .txt, DNSRecordType(rawValue: 255)]
            for name in names {
                for type in types {
                    let edns: EDNS? = [nil, EDNS(udpPayloadSize: 512), EDNS(udpPayloadSize: 900), EDNS(udpPayloadSize: 4096)].randomElement(using: &random)!
                    let transport: DNSTransport = Bool.random(using: &random) ? .udp : .tcp
                    let query = Z.query(Self.randomCase(name, &random), type, id: UInt16.random(in: 0...UInt16.max, using: &random), edns: edns)
                    let bytes = try #require(DNSAnswerer().response(to: query, over: transport, zone: zone))
                    let limit = transport == .tcp ? 65535 : min(edns.map { max(512, Int($0.udpPayloadSize)) } ?? 512, 1232, max(512, 10 * query.count))
                    #expect(bytes.count <= limit)
                    let message = try DNSMessage(parsing: bytes)
                    try check(message, name: name, type: type, contents: contents, fitsWhole: transport == .tcp, limit: limit)
                    #expect((message.edns != nil) == (edns != nil))
                }
            }
        }
    }

    func check(_ message: DNSMessage, name: DNSName, type: DNSRecordType, contents: DNSZoneContents, fitsWhole: Bool, limit: Int) throws {
        let context = "\(name) \(type)"
        guard name == contents.settings.domain || name.labels.count > contents.settings.domain.labels.count
            && DNSName.suffix(of: name, count: contents.settings.domain.labels.count) == contents.settings.domain else {
            #expect(message.header.responseCode == .refused, "\(context)")
            return
        }
        guard let records = contents.names[name] else {
            #expect(message.header.responseCode == .nameError, "\(context)")
            #expect(message.authority.map(\.type) == [.soa] && message.answers.isEmpty, "\(context)")
            return
        }
        let expected = type.rawValue == 255 ? records : records.filter { $0.type == type }
        #expect(message.header.responseCode == .noError && message.header.isAuthoritative, "\(context)")
        guard !expected.isEmpty else {
            #expect(message.answers.isEmpty && message.authority.map(\.type) == [.soa], "\(context): NODATA")
            return
        }
        let got = Set(message.answers.map(Key.init))
        let want = Set(expected.map(Key.init))
        let glue = Set((type == .srv || type == .ns ? Self.glue(for: expected, in: contents) : []).map(Key.init))
        let additional = Set(message.additional.filter { $0.type != .opt }.map(Key.init))
        if message.header.isTruncated {
            #expect(got.isSubset(of: want) && got.count < want.count && additional.isEmpty, "\(context): cut with TC")
        } else {
            #expect(got == want, "\(context)")
            #expect(additional.isSubset(of: glue), "\(context)")
            if fitsWhole { #expect(additional == glue, "\(context): TCP answers are whole") }
        }
    }

    static func glue(for records: [DNSResourceRecord], in contents: DNSZoneContents) -> [DNSResourceRecord] {
        records.flatMap { record -> [DNSResourceRecord] in
            guard case .srv(let srv) = record.data else {
                if case .ns(let host) = record.data { return (contents.names[host] ?? []).filter { $0.type == .a || $0.type == .aaaa } }
                return []
            }
            return (contents.names[srv.target] ?? []).filter { $0.type == .a || $0.type == .aaaa }
        }
    }

    /// A record without the case of its owner name.
    struct Key: Hashable, CustomStringConvertible {
        let name: DNSName
        let type: DNSRecordType
        let ttl: UInt32
        let data: DNSRecordData
        init(_ record: DNSResourceRecord) {
            name = record.name
            type = record.type
            ttl = record.ttl
            data = record.data
        }
        var description: String { DNSMessage.texts([DNSResourceRecord(name: name, type: type, ttl: ttl, data: data)])[0] + " @\(name)" }
    }
}

extension DNSName {
    static func suffix(of name: DNSName, count: Int) -> DNSName? {
        try? DNSName(labels: Array(name.labels.suffix(count)))
    }
}
