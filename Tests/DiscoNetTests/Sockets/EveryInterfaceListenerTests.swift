import DiscoNet
import DiscoTestKit
import Testing

// MARK: - Listening on every interface

/// An empty host means every interface, IPv6 as well as IPv4 (as Go's `net.Listen(":8080")`):
/// a proxy started with `-proxy-addr :8080` on an IPv6-only pod must be reachable.
@Suite struct EveryInterfaceListenerTests {
    @Test func anEmptyHostResolvesToBothWildcards() throws {
        let addresses = try SocketAddress.resolve(host: "", port: 8080)
        #expect(addresses.map(\.description) == ["[::]:8080", "0.0.0.0:8080"])
    }

    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"))
    func aTCPListenerOnAnEmptyHostTakesIPv6AndIPv4Connections() async throws {
        let listener = try await TCPListener.bind(host: "", port: 0)
        defer { listener.close() }
        let port = listener.localAddress.port
        let server = Task {
            for _ in 0..<2 {
                let connection = try await listener.accept()
                while let bytes = try await connection.read() { try await connection.write(bytes) }
            }
        }
        for host in ["::1", "127.0.0.1"] {
            let client = try await TCPConnection.connect(host: host, port: port)
            try await client.write(Array(host.utf8))
            var echoed: [UInt8] = []
            while echoed.count < host.utf8.count, let bytes = try await client.read() { echoed += bytes }
            #expect(echoed == Array(host.utf8), "\(host)")
            client.close()
        }
        try await server.value
    }

    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"))
    func anHTTPServerOnAnEmptyHostAnswersOverIPv6AndIPv4() async throws {
        let server = try await HTTPServer.start(configuration: HTTPServerConfiguration(host: "", port: 0),
                                                responder: HTTPResponder { _ in HTTPResponse(status: 204, bytes: []) })
        let client = HTTPClient()
        let port = server.localAddress.port
        for url in ["http://[::1]:\(port)/", "http://127.0.0.1:\(port)/"] {
            let response = try await client.send(HTTPClientRequest(url: url))
            #expect(response.status == 204, "\(url)")
        }
        await client.shutdown()
        await server.shutdown(gracePeriod: .seconds(1))
    }
}
