import DiscoCore
import DiscoDNSServer
import DiscoNet
import DiscoTestKit
import Testing

/// The cluster the server tests serve, and ways to ask the server: dig, raw UDP, framed TCP.
enum ServerFixture {
    static func ip(_ text: String) -> DNSIPAddress {
        if let address = SocketAddress(numericHost: text, port: 0), let ip = DNSIPAddress(bytes: address.addressBytes) { return ip }
        fatalError("bad test address \(text)")
    }

    /// Members 1–3 perform `host` (1 and 2 also `dns`), member 3 has IPv6 too; leader 1.
    static func members(dead: Set<NodeID> = []) -> [DNSZoneMember] {
        [
            DNSZoneMember(id: "1", addresses: [ip("127.0.0.1")], apiPort: 4001, roles: ["host", "dns"]),
            DNSZoneMember(id: "2", addresses: [ip("127.0.0.2")], apiPort: 4002, roles: ["host", "dns"]),
            DNSZoneMember(id: "3", addresses: [ip("127.0.0.3"), ip("fd00::3")], apiPort: 4003, roles: ["host"]),
        ].map { member in
            var member = member
            if dead.contains(member.id) { member.state = .dead }
            return member
        }
    }

    /// 150 members performing `many`, for truncation.
    static let crowd: [DNSZoneMember] = (0..<150).map { index in
        DNSZoneMember(id: NodeID("c\(index)")!, addresses: [ip("10.9.\(index / 200).\(index % 200)")], apiPort: 7000, roles: ["many"])
    }

    static let settings = try! DNSZoneSettings(domain: "disco.", ttl: .seconds(5))

    static func zone(dead: Set<NodeID> = [], leader: NodeID? = "1", extra: [DNSZoneMember] = ServerFixture.crowd) -> DNSZone {
        DNSZone(settings: settings, source: DNSZoneSource(members: members(dead: dead) + extra, leader: leader, nameServers: ["1", "2"], serial: 7))
    }

    static func start(_ zone: DNSZone = ServerFixture.zone(), configuration: DNSServerConfiguration = DNSServerConfiguration()) async throws -> DNSServer {
        try await DNSServer.start(configuration: configuration, zone: zone)
    }

    /// Runs `body` with a started server and stops it afterwards, even when `body` throws.
    static func with<T>(_ zone: DNSZone = ServerFixture.zone(), configuration: DNSServerConfiguration = DNSServerConfiguration(),
                        _ body: (DNSServer) async throws -> T) async throws -> T {
        let server = try await start(zone, configuration: configuration)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    // MARK: dig

    static let digPath = "/usr/bin/dig"

    /// dig's output for `arguments` against `server`.
    static func dig(_ server: DNSServer, _ arguments: [String]) async throws -> String {
        let process = ChildProcess(name: "dig", executable: digPath,
                                   arguments: ["@127.0.0.1", "-p", "\(server.port)", "+tries=1", "+time=10"] + arguments)
        try process.start()
        let status = try await process.waitForExit(timeout: .seconds(60))
        #expect(status == 0, "dig \(arguments): \(process.output)")
        return process.output
    }

    /// ``data(_:of:fields:)`` of a section of dig's answer to `arguments`.
    static func digData(_ server: DNSServer, _ arguments: [String], _ section: String, fields: Int = 1) async throws -> [String] {
        data(section, of: try await dig(server, arguments), fields: fields)
    }

    /// `;; MSG SIZE  rcvd: N` from dig's output.
    static func messageSize(_ output: String) -> Int? {
        output.split(separator: "\n").first { $0.hasPrefix(";; MSG SIZE  rcvd: ") }.flatMap { Int($0.dropFirst(19)) }
    }

    /// The lines of one section of dig's output (`ANSWER`, `AUTHORITY`, `ADDITIONAL`), records only.
    static func section(_ name: String, of output: String) -> [String] {
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(of: ";; \(name) SECTION:") else { return [] }
        return Array(lines[(start + 1)...].prefix { !$0.isEmpty }).filter { !$0.hasPrefix(";") }
    }

    /// Record data of a section: the last field of each line, sorted (`127.0.0.1`, `4001 1.node.disco.`).
    static func data(_ name: String, of output: String, fields: Int = 1) -> [String] {
        section(name, of: output).map { line in
            line.split(whereSeparator: { $0 == "\t" || $0 == " " }).suffix(fields).joined(separator: " ")
        }.sorted()
    }

    // MARK: Raw UDP and TCP

    /// Sends `datagrams` in order over one UDP socket and returns the first answer that comes back.
    static func firstUDPAnswer(_ server: DNSServer, after datagrams: [[UInt8]]) async throws -> [UInt8] {
        let socket = try await UDPSocket.connected(to: server.localAddresses[0])
        defer { socket.close() }
        for datagram in datagrams { try await socket.send(datagram, to: server.localAddresses[0]) }
        let answer = try await socket.receive(maxBytes: 65_536, timeout: .seconds(30))
        return try #require(answer).bytes
    }

    /// Reads whole length-prefixed messages from a TCP connection.
    final class FramedReader {
        let connection: TCPConnection
        private var buffer: [UInt8] = []

        init(_ connection: TCPConnection) { self.connection = connection }

        /// The next message, or nil once the server closed the connection.
        func next() async throws -> [UInt8]? {
            while true {
                if buffer.count >= 2 {
                    let length = Int(buffer[0]) << 8 | Int(buffer[1])
                    if buffer.count >= 2 + length {
                        defer { buffer.removeFirst(2 + length) }
                        return Array(buffer[2..<(2 + length)])
                    }
                }
                guard let chunk = try await connection.read() else { return nil }
                buffer += chunk
            }
        }
    }

    static func framed(_ message: [UInt8]) -> [UInt8] {
        [UInt8(message.count >> 8), UInt8(message.count & 0xFF)] + message
    }

    static func query(_ name: String, _ type: DNSRecordType, id: UInt16, edns: EDNS? = EDNS()) -> [UInt8] {
        (try? DNSMessage.query(id: id, name: DNSName(parsing: name), type: type, edns: edns).encoded()) ?? []
    }
}
