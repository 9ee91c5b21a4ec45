import DNSServerCore
import DiscoCore
import Testing

/// A small cluster and helpers to ask its zone questions through the answerer.
enum SampleZone {
    static func ip(_ text: String) -> DNSIPAddress {
        if text.contains(":") {
            // Only the forms the tests use: fd00::N.
            let last = UInt8(text.split(separator: ":").last.flatMap { Int($0, radix: 16) } ?? 0)
            return DNSIPAddress(bytes: [0xfd, 0] + [UInt8](repeating: 0, count: 13) + [last])!
        }
        return DNSIPAddress(bytes: text.split(separator: ".").map { UInt8($0)! })!
    }

    static func name(_ text: String) -> DNSName { try! DNSName(parsing: text) }

    /// Four members: 1 (host, dns; IPv4 and IPv6), 2 (host; suspect), 3 (host, dns; dead),
    /// Node_4 (host and a role name DNS cannot carry). Leader 1; name servers 1 and 3.
    static var source: DNSZoneSource {
        DNSZoneSource(
            members: [
                DNSZoneMember(id: "1", addresses: [ip("10.0.0.1"), ip("fd00::1")], apiPort: 4001, roles: ["host", "dns"]),
                DNSZoneMember(id: "2", addresses: [ip("10.0.0.2")], apiPort: 4002, roles: ["host"], state: .suspect),
                DNSZoneMember(id: "3", addresses: [ip("10.0.0.3")], apiPort: 4003, roles: ["host", "dns"], state: .dead),
                DNSZoneMember(id: "Node_4", addresses: [ip("10.0.0.4")], apiPort: 4004, roles: ["HOST", "Bad_Role"]),
            ],
            leader: "1", nameServers: ["1", "3"], serial: 42)
    }

    static let settings = try! DNSZoneSettings(domain: name("disco."), ttl: 5, negativeTTL: 30)
    static let zone = DNSZone(settings: settings, source: source)
    static let node4 = DNSMemberLabels.mappedLabel(for: "Node_4")

    /// A query's bytes.
    static func query(_ name: String, _ type: DNSRecordType, id: UInt16 = 0x1234, edns: EDNS? = nil, recursion: Bool = true) -> [UInt8] {
        var message = DNSMessage.query(id: id, name: Self.name(name), type: type, edns: edns)
        message.header.recursionDesired = recursion
        return try! message.encoded()
    }

    /// Asks `zone` and parses the answer strictly.
    static func ask(_ query: [UInt8], over transport: DNSTransport = .udp, zone: DNSZone = zone,
                    answerer: DNSAnswerer = DNSAnswerer()) throws -> DNSMessage {
        let bytes = try #require(answerer.response(to: query, over: transport, zone: zone))
        return try DNSMessage(parsing: bytes)
    }

    static func ask(_ name: String, _ type: DNSRecordType, edns: EDNS? = EDNS(), over transport: DNSTransport = .udp,
                    zone: DNSZone = zone) throws -> DNSMessage {
        try ask(query(name, type, edns: edns), over: transport, zone: zone)
    }
}

extension DNSMessage {
    /// Records' data as text, sorted: `A 10.0.0.1`, `SRV 0 1 4001 1.node.disco`.
    static func texts(_ records: [DNSResourceRecord]) -> [String] {
        records.map { record in
            switch record.data {
            case .address(let ip): "\(record.type) \(ip)"
            case .srv(let srv): "SRV \(srv.priority) \(srv.weight) \(srv.port) \(srv.target)"
            case .ns(let host): "NS \(host)"
            case .soa(let soa): "SOA \(soa.primaryServer) \(soa.responsible) \(soa.serial) \(soa.minimum)"
            default: "\(record.type) ?"
            }
        }.sorted()
    }

    var answerTexts: [String] { Self.texts(answers) }
    var additionalTexts: [String] { Self.texts(additional.filter { $0.type != .opt }) }
}
