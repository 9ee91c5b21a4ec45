import DiscoDNSServer
import DiscoNet
import DiscoTestKit
import Testing

/// `-dns-addr` and binding: errors that name the flag, IPv6, every address of a name.
@Suite struct ServerConfigurationTests {
    typealias F = ServerFixture

    @Test func dnsAddrParsesHostAndPort() throws {
        let plain = try DNSServerConfiguration(address: "127.0.0.1:8600")
        #expect(plain.host == "127.0.0.1" && plain.port == 8600)
        let v6 = try DNSServerConfiguration(address: "[::1]:53")
        #expect(v6.host == "::1" && v6.port == 53)
        let defaults = try DNSServerConfiguration(address: DNSServerConfiguration.defaultAddress)
        #expect(defaults.port == 8600 && defaults.limits == .standard)
    }

    @Test func badDNSAddrsAreRefusedNamingTheFlag() {
        for text in ["", "localhost", "host:99999", "http://127.0.0.1:8600", "a b:53"] {
            do {
                _ = try DNSServerConfiguration(address: text)
                Issue.record("\(text.debugDescription) was accepted")
            } catch {
                #expect(error.description.hasPrefix("-dns-addr: "), "\(error)")
                #expect(error.description.contains("127.0.0.1:8600"), "the error shows a valid example: \(error)")
            }
        }
    }

    @Test func ipv6AndEveryAddressOfAName() async throws {
        for host in ["::1", "localhost"] {
            try await F.with(configuration: DNSServerConfiguration(host: host)) { (server) async throws in
                for address in server.localAddresses {
                    let socket = try await UDPSocket.connected(to: address)
                    try await socket.send(F.query("leader.disco", .a, id: 77), to: address)
                    let answer = try #require(try await socket.receive(maxBytes: 4096, timeout: .seconds(30)))
                    #expect(try DNSMessage(parsing: answer.bytes).header.id == 77, "\(address)")
                    socket.close()
                    let connection = try await TCPConnection.connect(to: address)
                    try await connection.write(F.framed(F.query("leader.disco", .a, id: 78)))
                    let reply = try #require(try await F.FramedReader(connection).next())
                    #expect(try DNSMessage(parsing: reply).answers.count == 1, "\(address) over TCP")
                    connection.close()
                }
                #expect(Set(server.localAddresses.map(\.port)).count == 1, "UDP and TCP on one port for every address")
            }
        }
    }

    /// `-dns-addr :PORT` (and `[::]:PORT`): one dual-stack listener that answers IPv4 and IPv6
    /// clients over UDP (from the address each asked) and TCP.
    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"), arguments: [":0", "[::]:0"])
    func everyInterfaceAnswersIPv4AndIPv6(address: String) async throws {
        try await F.with(configuration: DNSServerConfiguration(address: address)) { (server) async throws in
            #expect(server.localAddresses.count == 1, "\(server.localAddresses)")
            let port = try #require(server.localAddresses.first?.port)
            for host in ["127.0.0.1", "::1"] {
                let target = try #require(SocketAddress(numericHost: host, port: port))
                let socket = try await UDPSocket.connected(to: target)
                try await socket.send(F.query("leader.disco", .a, id: 91), to: target)
                let answer = try #require(try await socket.receive(maxBytes: 4096, timeout: .seconds(30)), "no UDP answer to \(host)")
                #expect(try DNSMessage(parsing: answer.bytes).header.id == 91, "\(host)")
                socket.close()
                let connection = try await TCPConnection.connect(to: target)
                try await connection.write(F.framed(F.query("leader.disco", .a, id: 92)))
                let reply = try #require(try await F.FramedReader(connection).next())
                #expect(try DNSMessage(parsing: reply).answers.count == 1, "\(host) over TCP")
                connection.close()
            }
        }
    }
}
