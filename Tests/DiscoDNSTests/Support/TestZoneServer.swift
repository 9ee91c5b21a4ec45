import DiscoDNS
import DiscoNet
import DiscoTestKit

/// A small authoritative server for `disco.test`, built only from the codec's builder and
/// DiscoNet's sockets, so a real client (dig) can judge what the builder writes: answers with
/// CNAMEs and glue, NXDOMAIN and NODATA with the SOA, EDNS, and TC for a UDP answer that does not
/// fit (the same question over TCP gets everything).
final class TestZoneServer: Sendable {
    let port: UInt16
    private let udp: UDPSocket
    private let tcp: TCPListener
    private let zone: [DNSResourceRecord]
    private let soa: DNSResourceRecord
    private let tasks: [Task<Void, Never>]

    init(zone: [DNSResourceRecord], soa: DNSResourceRecord) async throws {
        let port = try FreePort.loopback()
        let udp = try await UDPSocket.bind(host: "127.0.0.1", port: port)
        let tcp = try await TCPListener.bind(host: "127.0.0.1", port: port)
        let records = zone + [soa]
        self.port = port
        self.udp = udp
        self.tcp = tcp
        self.zone = records
        self.soa = soa
        tasks = [
            Task {
                while let datagram = try? await udp.receive() {
                    guard let query = try? DNSMessage(parsing: datagram.bytes),
                        let bytes = try? Self.answer(query, zone: records, soa: soa).encoded(limit: query.udpResponseLimit())
                    else { continue }
                    try? await udp.send(bytes, to: datagram.sender)
                }
            },
            Task {
                while let connection = try? await tcp.accept() {
                    await Self.serve(connection, zone: records, soa: soa)
                }
            },
        ]
    }

    func stop() async {
        udp.close()
        tcp.close()
        for task in tasks { await task.value }
    }

    /// One query per connection, with the two-byte length prefix of DNS over TCP.
    private static func serve(_ connection: TCPConnection, zone: [DNSResourceRecord], soa: DNSResourceRecord) async {
        defer { connection.close() }
        var received: [UInt8] = []
        while received.count < 2 || received.count < 2 + (Int(received[0]) << 8 | Int(received[1])) {
            guard let chunk = try? await connection.read() else { return }
            received += chunk
        }
        let length = Int(received[0]) << 8 | Int(received[1])
        guard let query = try? DNSMessage(parsing: Array(received[2..<(2 + length)])),
            let bytes = try? answer(query, zone: zone, soa: soa).encoded()
        else { return }
        try? await connection.write([UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes)
    }

    /// The authoritative answer: records of the type asked for (following a CNAME in the zone),
    /// glue for SRV targets and NS hosts, else NODATA for a name the zone has, else NXDOMAIN.
    static func answer(_ query: DNSMessage, zone: [DNSResourceRecord], soa: DNSResourceRecord) -> DNSMessage {
        guard query.edns.map({ $0.version == 0 }) ?? true else { return DNSMessage.response(to: query) }  // BADVERS
        guard let question = query.questions.first, query.questions.count == 1 else {
            return DNSMessage.response(to: query, code: .formatError)
        }
        var name = question.name
        var answers: [DNSResourceRecord] = []
        if question.type != .cname, let alias = zone.first(where: { $0.name == name && $0.type == .cname }), case .cname(let target) = alias.data {
            answers.append(alias)
            name = target
        }
        answers += zone.filter { $0.name == name && $0.type == question.type }
        guard !answers.isEmpty else {
            return zone.contains(where: { $0.name == name })
                ? DNSMessage.noData(to: query, soa: soa) : DNSMessage.nameError(to: query, soa: soa)
        }
        let hosts: [DNSName] = answers.compactMap { record in
            switch record.data {
            case .srv(let srv): srv.target
            case .ns(let host): host
            default: nil
            }
        }
        let glue = zone.filter { record in hosts.contains(record.name) && (record.type == .a || record.type == .aaaa) }
        return DNSMessage.answer(to: query, answers: answers, additional: glue)
    }
}
