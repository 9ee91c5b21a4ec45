import DiscoNet
import DiscoTestKit
import Testing

@Suite("HTTP client against our server")
struct HTTPClientTests {
    private func url(_ server: HTTPServer, _ path: String) -> String {
        "http://\(server.localAddress)\(path)"
    }

    @Test func sequentialRequestsReuseOnePooledConnection() async throws {
        try await withServer { server in
            let client = HTTPClient()
            for index in 0..<5 {
                let response = try await client.send(HTTPClientRequest(url: url(server, "/n\(index)")))
                #expect(response.status == 200)
                #expect(response.bodyText == "GET /n\(index)")
            }
            let post = try await client.send(HTTPClientRequest(method: "POST", url: url(server, "/p"), body: Array("xyz".utf8)))
            #expect(post.bodyText == "POST /p body=xyz")
            #expect(server.acceptedConnections == 1)
            #expect(await client.connectionsOpened == 1)
            await client.shutdown()
        }
    }

    @Test func concurrentRequestsStayWithinThePoolBound() async throws {
        let gate = Gate()
        try await withServer(handler: { request in await gate.wait(); return .text(request.path) }) { server in
            let client = HTTPClient(configuration: HTTPClientConfiguration(maxConnectionsPerHost: 2))
            let paths = (0..<6).map { "/c\($0)" }
            async let results = withThrowingTaskGroup(of: String.self) { group in
                for path in paths {
                    group.addTask { try await client.send(HTTPClientRequest(url: url(server, path))).bodyText }
                }
                var bodies: [String] = []
                for try await body in group { bodies.append(body) }
                return bodies
            }
            try await waitUntil("two requests in handlers") { gate.arrivals == 2 }
            gate.open()
            #expect(try await results.sorted() == paths.sorted())
            #expect(server.acceptedConnections == 2)
            await client.shutdown()
        }
    }

    @Test func chunkedResponseIsDecoded() async throws {
        let streaming: HTTPHandler = { _ in
            HTTPResponse(body: .stream { writer in
                for index in 0..<20 { try await writer.write("piece\(index);") }
            })
        }
        try await withServer(handler: streaming) { server in
            let client = HTTPClient()
            let response = try await client.send(HTTPClientRequest(url: url(server, "/stream")))
            #expect(response.headers["Transfer-Encoding"] == "chunked")
            #expect(response.bodyText == (0..<20).map { "piece\($0);" }.joined())
            let again = try await client.send(HTTPClientRequest(url: url(server, "/stream")))
            #expect(again.status == 200)
            #expect(server.acceptedConnections == 1)
        }
    }

    @Test func redirectsAreReturnedOrFollowedOnRequest() async throws {
        let redirecting: HTTPHandler = { request in
            switch request.path {
            case "/r1": return HTTPResponse(status: 302, headers: ["Location": "/r2"])
            case "/r2": return HTTPResponse(status: 307, headers: ["Location": "final?x=1"])
            case "/loop": return HTTPResponse(status: 301, headers: ["Location": "/loop"])
            default: return .text("\(request.method) \(request.target) \(request.bodyText)")
            }
        }
        try await withServer(handler: redirecting) { server in
            let client = HTTPClient()
            let first = try await client.send(HTTPClientRequest(url: url(server, "/r1")))
            #expect(first.status == 302)
            #expect(first.isRedirect)
            let followed = try await client.send(HTTPClientRequest(method: "PUT", url: url(server, "/r1"), body: Array("b".utf8)), followingRedirects: 10)
            #expect(followed.status == 200)
            #expect(followed.bodyText == "PUT /final?x=1 b")
            await #expect(throws: HTTPClientError.self) {
                try await client.send(HTTPClientRequest(url: url(server, "/loop")), followingRedirects: 3)
            }
        }
    }

    @Test func requestTimeoutNamesTheHost() async throws {
        let gate = Gate()
        try await withServer(handler: { _ in await gate.wait(); return .text("late") }) { server in
            let client = HTTPClient()
            do {
                _ = try await client.send(HTTPClientRequest(url: url(server, "/slow")), timeout: .milliseconds(200))
                Issue.record("expected a timeout")
            } catch let error as HTTPClientError {
                #expect(error.code == .timeout)
                #expect(error.description.contains("\(server.localAddress.port)"))
                // The limit as a duration people write (as -timeout takes it), not "0.2 seconds"
                // or, for discoctl -timeout 1ns, "1e-09 seconds".
                #expect(error.detail == "no complete response within 200ms", "\(error.detail)")
            }
            gate.open()
        }
    }

    @Test func refusedConnectionIsAClearError() async throws {
        // A port bound but not listening refuses, and stays ours: a closed listener's port could
        // be taken meanwhile by another test's server, or be picked as the client's own port.
        let refusing = try FreePort.Refusing()
        let port = refusing.port
        let client = HTTPClient()
        do {
            _ = try await client.send(HTTPClientRequest(url: "http://127.0.0.1:\(port)/"))
            Issue.record("expected connect failure")
        } catch let error as HTTPClientError {
            #expect(error.code == .connectFailed)
            #expect(error.description.contains("refused"))
            #expect(error.description.contains("\(port)"))
        }
        withExtendedLifetime(refusing) {}
    }

    @Test func idleConnectionClosedByServerIsReplacedCleanly() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = .milliseconds(100)
        try await withServer(configuration) { server in
            let client = HTTPClient()
            #expect(try await client.send(HTTPClientRequest(url: url(server, "/1"))).status == 200)
            try await waitUntil("server closed the idle connection") { server.openConnections == 0 }
            #expect(try await client.send(HTTPClientRequest(url: url(server, "/2"))).bodyText == "GET /2")
            #expect(server.acceptedConnections == 2)
        }
    }

    @Test func otherSchemesAreRejectedUpFront() async throws {
        let client = HTTPClient()
        await #expect(throws: HTTPClientError(.invalidURL, host: "ftp://example.com/",
                                              detail: "expected http://host[:port]/path or https://host[:port]/path")) {
            try await client.send(HTTPClientRequest(url: "ftp://example.com/"))
        }
    }
}
