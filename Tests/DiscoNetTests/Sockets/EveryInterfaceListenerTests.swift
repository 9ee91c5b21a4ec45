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

    /// An IPv4 client of a dual-stack `[::]` listener is seen as `::ffff:127.0.0.1`; its
    /// address reads as `127.0.0.1`, as on an IPv4 listener (X-Forwarded-For, rate-limit keys,
    /// hop trust by address all compare that text).
    @Test func anIPv4MappedAddressReadsAsItsIPv4Address() throws {
        let mapped = try #require(SocketAddress(numericHost: "::ffff:10.1.2.3", port: 80))
        #expect(mapped.isIPv4Mapped)
        #expect(mapped.host == "10.1.2.3")
        #expect(mapped.description == "10.1.2.3:80")
        let plain = try #require(SocketAddress(numericHost: "::1", port: 80))
        #expect(!plain.isIPv4Mapped)
        #expect(plain.description == "[::1]:80")
        let almost = try #require(SocketAddress(numericHost: "::fffe:10.1.2.3", port: 80))
        #expect(!almost.isIPv4Mapped)
        #expect(almost.host.contains(":"), "\(almost.host)")
    }

    @Test(.enabled(if: IPv6Loopback.isAvailable, "::1 cannot be bound here"))
    func anHTTPServerOnAnEmptyHostSeesAnIPv4ClientAsIPv4() async throws {
        let server = try await HTTPServer.start(configuration: HTTPServerConfiguration(host: "", port: 0),
                                                responder: HTTPResponder { request in
                                                    HTTPResponse(status: 200, bytes: Array((request.remoteAddress?.host ?? "none").utf8))
                                                })
        let client = HTTPClient()
        let port = server.localAddress.port
        for (url, seen) in [("http://127.0.0.1:\(port)/", "127.0.0.1"), ("http://[::1]:\(port)/", "::1")] {
            let response = try await client.send(HTTPClientRequest(url: url))
            #expect(response.bodyText == seen, "\(url)")
        }
        await client.shutdown()
        await server.shutdown(gracePeriod: .seconds(1))
    }
}
