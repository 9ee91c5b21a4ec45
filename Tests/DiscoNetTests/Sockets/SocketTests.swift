import DiscoNet
import Testing

@Suite("Sockets: TCP, UDP, addresses, event loop")
struct SocketTests {
    @Test func udpSendAndReceiveOnIPv4() async throws {
        let a = try await UDPSocket.bind()
        let b = try await UDPSocket.bind()
        #expect(a.localAddress.port != 0)
        try await a.send(Array("ping".utf8), to: b.localAddress)
        let datagram = try await b.receive()
        #expect(datagram.bytes == Array("ping".utf8))
        #expect(datagram.sender == a.localAddress)
        try await b.send(Array("pong".utf8), to: datagram.sender)
        #expect(try await a.receive().bytes == Array("pong".utf8))
        a.close()
        b.close()
    }

    @Test func udpOnIPv6Loopback() async throws {
        let a = try await UDPSocket.bind(host: "::1")
        let b = try await UDPSocket.bind(host: "[::1]")
        #expect(a.localAddress.isIPv6)
        try await a.send([1, 2, 3], to: b.localAddress)
        let datagram = try await b.receive()
        #expect(datagram.bytes == [1, 2, 3])
        #expect(datagram.sender.description == "[::1]:\(a.localAddress.port)")
    }

    @Test func tcpEchoOverIPv6Loopback() async throws {
        let listener = try await TCPListener.bind(host: "::1")
        #expect(listener.localAddress.description.hasPrefix("[::1]:"))
        let server = Task {
            let connection = try await listener.accept()
            while let bytes = try await connection.read() { try await connection.write(bytes) }
        }
        let client = try await TCPConnection.connect(host: "::1", port: listener.localAddress.port)
        let message = Array(repeating: UInt8(7), count: 200_000)
        try await client.write(message)
        var echoed: [UInt8] = []
        while echoed.count < message.count, let bytes = try await client.read() { echoed += bytes }
        #expect(echoed == message)
        client.close()
        try await server.value
        listener.close()
    }

    @Test func connectingByNameUsesGetaddrinfo() async throws {
        let listener = try await TCPListener.bind(host: "localhost")
        let client = try await TCPConnection.connect(host: "localhost", port: listener.localAddress.port)
        let accepted = try await listener.accept()
        try await client.write([42])
        #expect(try await accepted.read() == [42])
        listener.close()
    }

    @Test func unknownHostIsAClearError() async throws {
        await #expect(throws: AddressResolutionError.self) {
            _ = try await SocketAddress.resolveAsync(host: "no-such-host.invalid", port: 80)
        }
    }

    @Test func numericAddressesParseAndPrint() {
        #expect(SocketAddress(numericHost: "127.0.0.1", port: 80)?.description == "127.0.0.1:80")
        #expect(SocketAddress(numericHost: "[::1]", port: 443)?.description == "[::1]:443")
        #expect(SocketAddress(numericHost: "example.com", port: 1) == nil)
    }

    /// IPv4 hosts are formatted by hand: every octet width, as inet_ntop writes them.
    @Test func ipv4HostsPrintAsInetNtopWouldForEveryOctetWidth() {
        for text in ["0.0.0.0", "255.255.255.255", "10.0.100.9", "1.22.133.4", "192.168.1.254", "99.100.9.10"] {
            #expect(SocketAddress(numericHost: text, port: 1)?.host == text)
        }
    }

    @Test func bindingAUsedPortFailsWithErrnoAndFunction() async throws {
        let first = try await TCPListener.bind()
        do {
            _ = try await TCPListener.bind(port: first.localAddress.port)
            Issue.record("second bind should fail")
        } catch let error as SystemError {
            #expect(error.function.hasPrefix("bind"))
            #expect(error.description.contains("errno"))
        }
        first.close()
    }

    @Test func loopRunsSubmittedWorkAndReportsInLoop() async throws {
        let loop = EventLoopGroup.shared.next()
        #expect(!loop.inLoop)
        let onLoop = try await loop.submit { loop.inLoop }
        #expect(onLoop)
    }
}
