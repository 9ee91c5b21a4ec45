import DiscoNet
import DiscoTestKit
import Testing

@Suite("HTTP server: limits and timeouts")
struct HTTPServerLimitTests {
    @Test func oversizedHeaderSectionGets431() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxHeaderBytes = 1024
        try await withServer(configuration) { server in
            let big = String(repeating: "a", count: 2000)
            try await expectRejected(server, "GET / HTTP/1.1\r\nHost: t\r\nX-Big: \(big)\r\n\r\n", status: 431)
        }
    }

    @Test func tooManyHeaderFieldsGets431() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxHeaderCount = 5
        try await withServer(configuration) { server in
            let fields = (0..<10).map { "X-\($0): v\r\n" }.joined()
            try await expectRejected(server, "GET / HTTP/1.1\r\nHost: t\r\n\(fields)\r\n", status: 431)
        }
    }

    @Test func oversizedDeclaredBodyGets413() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxBodyBytes = 16
        try await withServer(configuration) { server in
            try await expectRejected(server, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n" + String(repeating: "x", count: 17), status: 413)
        }
    }

    @Test func oversizedChunkedBodyGets413() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxBodyBytes = 16
        try await withServer(configuration) { server in
            try await expectRejected(server,
                "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n", status: 413)
        }
    }

    @Test func oversizedTrailersGet431() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxTrailerBytes = 64
        try await withServer(configuration) { server in
            let trailer = "X-T: " + String(repeating: "t", count: 100) + "\r\n"
            try await expectRejected(server,
                "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\(trailer)\r\n", status: 431)
        }
    }

    @Test func longRequestLineGets414() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxRequestLineBytes = 256
        try await withServer(configuration) { server in
            let path = "/" + String(repeating: "p", count: 400)
            try await expectRejected(server, "GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n", status: 414)
        }
    }

    @Test func slowlorisGets408AndIsClosed() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.headerReadTimeout = .milliseconds(300)
        try await withServer(configuration) { server in
            let client = try connect(server)
            let request = Array("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ".utf8) + Array(repeating: UInt8(ascii: "s"), count: 10_000)
            // The first byte goes out at once (a connection that sends nothing is closed silently);
            // then one byte at a time, each after a 50 ms pause in which we watch for the answer.
            // The answer may also land between a pause and the next byte: that send then finds
            // the connection closed, and the answer is waiting.
            try client.send([request[0]])
            var sent = 1
            while sent < request.count {
                if await client.waitReadable(milliseconds: 50) { break }
                do {
                    try client.send([request[sent]])
                } catch let error as RawSocketError where error.peerHasClosed {
                    break
                }
                sent += 1
            }
            #expect(sent < request.count, "the server never answered the trickling client")
            let response = try await client.readResponse()
            #expect(response.status == 408)
            #expect(try await client.isClosedByPeer())
        }
    }

    @Test func idleKeepAliveConnectionIsClosedSilently() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = .milliseconds(100)
        try await withServer(configuration) { server in
            let (response, client) = try await exchange(server, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(response.status == 200)
            let rest = try await client.readUntilClose()
            #expect(rest.isEmpty)
            try await waitUntil("server forgets the idle connection") { server.openConnections == 0 }
        }
    }

    @Test func connectionsBeyondTheCapGet503() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxConnections = 1
        try await withServer(configuration) { server in
            let (first, firstClient) = try await exchange(server, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(first.status == 200)
            let second = try connect(server)
            let refused = try await second.readResponse()
            #expect(refused.status == 503)
            #expect(try await second.isClosedByPeer())
            try firstClient.send("GET /still HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await firstClient.readResponse().bodyText == "GET /still")
        }
    }

    /// A connection handed off after `101` (a spliced WebSocket) still holds its slot until its
    /// handler returns: the cap used to count only connections still speaking HTTP, so upgraded
    /// connections could pile up without bound.
    @Test func handedOffConnectionsCountAgainstTheCap() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxConnections = 1
        let responder = HTTPResponder { _ in
            .switchingProtocols(to: "echo") { upgraded in
                while let piece = try? await upgraded.connection.read() { try? await upgraded.connection.write(piece) }
            }
        }
        try await withServer(configuration, responder: responder) { server in
            let upgraded = try connect(server)
            try upgraded.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
            #expect(try await upgraded.readResponse().status == 101)
            try upgraded.send("ping")
            #expect(try await upgraded.read(count: 4) == Array("ping".utf8))

            let second = try connect(server)
            #expect(try await second.readResponse().status == 503)
            #expect(try await second.isClosedByPeer())

            // The slot comes back once the upgraded connection ends.
            upgraded.shutdownWrite()
            try await waitUntil("the handed-off connection to end") { server.openConnections == 0 }
            let (third, _) = try await exchange(server, "GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
            #expect(third.status == 101)
        }
    }
}
