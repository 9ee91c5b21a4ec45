import DiscoCore
import DiscoDNSServer
import DiscoNet
import DiscoTestKit
import Testing

/// Bytes on the wire: garbage over UDP, DNS over TCP with pipelining, idle timeout, connection
/// cap and half-close.
@Suite struct RawQueryTests {
    typealias F = ServerFixture

    @Test func udpGarbageGetsFORMERROrNothing() async throws {
        try await F.with { (server) async throws in
            // Unreadable headers and responses get nothing: the first answer to arrive is the
            // valid query's, sent after them.
            var response = F.query("leader.disco", .a, id: 1)
            response[2] |= 0x80
            let silent: [[UInt8]] = [[], [0x12], Array(repeating: 0xFF, count: 11), response]
            let first = try await F.firstUDPAnswer(server, after: silent + [F.query("leader.disco", .a, id: 0xBEEF)])
            let answer = try DNSMessage(parsing: first)
            #expect(answer.header.id == 0xBEEF && answer.answers.count == 1)

            // A readable header with garbage after it: FORMERR with the header's ID.
            let garbage: [UInt8] = [0xAB, 0xCD, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFE, 0xFD, 0x00]
            let formerr = try DNSMessage(parsing: try await F.firstUDPAnswer(server, after: [garbage]))
            #expect(formerr.header.id == 0xABCD && formerr.header.responseCode == .formatError && formerr.questions.isEmpty)

            var notify = F.query("disco", .soa, id: 0x4444)
            notify[2] = (notify[2] & 0x87) | (4 << 3)
            let notimp = try DNSMessage(parsing: try await F.firstUDPAnswer(server, after: [notify]))
            #expect(notimp.header.id == 0x4444 && notimp.header.responseCode == .notImplemented)

            let statistics = await server.statistics()
            #expect(statistics.outcomes[.dropped] == 4 && statistics.outcomes[.formatError] == 1)
            #expect(statistics.udp.received == 7 && statistics.udp.sent == 3)
        }
    }

    @Test func pipelinedTCPQueriesAreAnsweredInOrder() async throws {
        try await F.with { (server) async throws in
            let connection = try await TCPConnection.connect(to: server.localAddresses[0])
            defer { connection.close() }
            let reader = F.FramedReader(connection)
            let names = ["leader.disco", "1.node.disco", "nothing.disco", "many.role.disco", "_host._tcp.disco"]
            // All five in one write, the last split across two more.
            var bytes: [UInt8] = []
            for (index, name) in names.enumerated() { bytes += F.framed(F.query(name, index == 4 ? .srv : .a, id: UInt16(100 + index))) }
            try await connection.write(Array(bytes[..<(bytes.count - 7)]))
            try await connection.write(Array(bytes[(bytes.count - 7)...]))
            var ids: [UInt16] = []
            for _ in names {
                let message = try DNSMessage(parsing: try #require(try await reader.next()))
                ids.append(message.header.id)
                #expect(!message.header.isTruncated)
                if message.header.id == 103 { #expect(message.answers.count == 150, "TCP answers are whole") }
                if message.header.id == 102 { #expect(message.header.responseCode == .nameError) }
            }
            #expect(ids == [100, 101, 102, 103, 104])
        }
    }

    @Test func halfClosedConnectionsAreAnsweredThenClosed() async throws {
        try await F.with { (server) async throws in
            let client = try RawSocketClient(connectTo: server.localAddresses[0])
            try client.send(F.framed(F.query("leader.disco", .a, id: 9)) + F.framed(F.query("disco", .soa, id: 10)))
            client.shutdownWrite()
            var rest = try await client.readUntilClose()
            var ids: [UInt16] = []
            while rest.count >= 2 {
                let length = Int(rest[0]) << 8 | Int(rest[1])
                ids.append(try DNSMessage(parsing: Array(rest[2..<(2 + length)])).header.id)
                rest.removeFirst(2 + length)
            }
            #expect(ids == [9, 10] && rest.isEmpty)
        }
    }

    @Test func badFramesCloseTheConnection() async throws {
        try await F.with { (server) async throws in
            let client = try RawSocketClient(connectTo: server.localAddresses[0])
            // A 3-byte message has no readable header: nothing to answer, so the server hangs up.
            try client.send(F.framed(F.query("leader.disco", .a, id: 1)) + [0, 3, 1, 2, 3] + F.framed(F.query("leader.disco", .a, id: 2)))
            let all = try await client.readUntilClose()
            let length = Int(all[0]) << 8 | Int(all[1])
            #expect(try DNSMessage(parsing: Array(all[2..<(2 + length)])).header.id == 1)
            #expect(all.count == 2 + length, "nothing after the bad frame is answered")
        }
    }

    @Test func idleConnectionsAreClosed() async throws {
        let configuration = DNSServerConfiguration(tcp: TCPMessageServerConfiguration(idleTimeout: .milliseconds(300)))
        try await F.with(configuration: configuration) { (server) async throws in
            let client = try RawSocketClient(connectTo: server.localAddresses[0], timeoutSeconds: 30)
            try client.send(F.framed(F.query("leader.disco", .a, id: 1)))
            // The answer comes, then the server closes the idle connection on its own.
            let all = try await client.readUntilClose()
            #expect(try DNSMessage(parsing: Array(all.dropFirst(2))).header.id == 1)
            #expect(await server.statistics().tcp.timedOut == 1)
        }
    }

    @Test func connectionsBeyondTheCapAreClosed() async throws {
        // No idle timeout within the test's life: the two held connections must stay open.
        let configuration = DNSServerConfiguration(tcp: TCPMessageServerConfiguration(idleTimeout: .seconds(3600), maxConnections: 2))
        try await F.with(configuration: configuration) { (server) async throws in
            let held = try (0..<2).map { _ in try RawSocketClient(connectTo: server.localAddresses[0]) }
            // Each held connection has been answered, so the server has both open.
            for (index, client) in held.enumerated() {
                try client.send(F.framed(F.query("leader.disco", .a, id: UInt16(index))))
                #expect(await client.waitReadable(milliseconds: 30_000))
            }
            let third = try RawSocketClient(connectTo: server.localAddresses[0])
            try? third.send(F.framed(F.query("leader.disco", .a, id: 3)))
            #expect(try await third.readUntilClose().isEmpty)
            let statistics = await server.statistics()
            #expect(statistics.tcp.refused == 1 && statistics.tcp.open == 2)
            withExtendedLifetime(held) {}
        }
    }

    /// Bound to 0.0.0.0 (or to :: taking IPv4 as well), the server answers from the address each
    /// query was sent to, not from the one the route back prefers (127.0.0.1 here): dig, like most
    /// clients, drops an answer from an address it did not ask.
    @Test(arguments: ["0.0.0.0", "::"])
    func onAWildcardAddressUDPAnswersComeFromTheAddressAsked(host: String) async throws {
        try await F.with(configuration: DNSServerConfiguration(host: host)) { (server) async throws in
            let client = try await UDPSocket.bind(host: "127.0.0.1")
            defer { client.close() }
            for target in ["127.0.0.2", "127.0.0.3", "127.0.0.1"] {
                let address = try #require(SocketAddress(numericHost: target, port: server.port))
                try await client.send(F.query("leader.disco", .a, id: 0x5151), to: address)
                let answer = try #require(try await client.receive(maxBytes: 65_536, timeout: .seconds(30)))
                #expect(answer.sender == address, "asked \(target), answered from \(answer.sender)")
                #expect(try DNSMessage(parsing: answer.bytes).header.id == 0x5151)
            }
        }
    }
}
