import DiscoNet
import DiscoTestKit
import Testing

@Suite("HTTP server: keep-alive, pipelining, bodies")
struct HTTPServerBasicsTests {
    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        try await withServer { server in
            let client = try connect(server)
            for path in ["/a", "/b?x=1"] {
                try client.send("GET \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200)
                #expect(response.bodyText == "GET \(path)")
                #expect(response.header("Connection") == nil)
                #expect(response.header("Date")?.hasSuffix(" GMT") == true)
            }
            #expect(server.acceptedConnections == 1)
        }
    }

    @Test func pipelinedRequestsInOneWriteAreAnsweredInOrder() async throws {
        let slowFirst: HTTPHandler = { request in
            if request.path == "/1" {
                // Let later requests finish first if the server did not serialise them.
                for _ in 0..<50 { await Task.yield() }
            }
            return .text(request.path)
        }
        try await withServer(handler: slowFirst) { server in
            let client = try connect(server)
            try client.send("GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nPOST /3 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
            #expect(try await client.readResponse().bodyText == "/1")
            #expect(try await client.readResponse().bodyText == "/2")
            #expect(try await client.readResponse().bodyText == "/3")
        }
    }

    @Test func pipelinedRequestsBeforeAHalfCloseAreAllAnswered() async throws {
        try await withServer { server in
            let client = try connect(server)
            try client.send("GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\n")
            client.shutdownWrite()
            #expect(try await client.readResponse().bodyText == "GET /1")
            #expect(try await client.readResponse().bodyText == "GET /2")
            #expect(try await client.isClosedByPeer())
        }
    }

    @Test func chunkedRequestBodyWithTrailers() async throws {
        try await withServer { server in
            let (response, _) = try await exchange(server,
                "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: 42\r\n\r\n")
            #expect(response.status == 200)
            #expect(response.bodyText == "POST /up body=hello world trailer=42")
        }
    }

    @Test func expectContinueGetsInterimResponseThenFinalOne() async throws {
        try await withServer { server in
            let client = try connect(server)
            try client.send("PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            let interim = try await client.readResponse()
            #expect(interim.status == 100)
            try client.send("data")
            let final = try await client.readResponse()
            #expect(final.status == 200)
            #expect(final.bodyText == "PUT /x body=data")
        }
    }

    @Test func expectContinueOverTheBodyLimitGets413WithoutContinue() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxBodyBytes = 10
        try await withServer(configuration) { server in
            try await expectRejected(server, "PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n", status: 413)
        }
    }

    @Test func unknownExpectationGets417() async throws {
        try await withServer { server in
            try await expectRejected(server, "PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nExpect: teapot\r\n\r\nx", status: 417)
        }
    }

    @Test func http10WithoutKeepAliveCloses() async throws {
        try await withServer { server in
            let (response, client) = try await exchange(server, "GET /old HTTP/1.0\r\n\r\n")
            #expect(response.status == 200)
            #expect(response.bodyText == "GET /old")
            #expect(try await client.isClosedByPeer())
        }
    }

    @Test func http10WithKeepAliveStaysOpen() async throws {
        try await withServer { server in
            let client = try connect(server)
            for _ in 0..<2 {
                try client.send("GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200)
                #expect(response.header("Connection")?.lowercased() == "keep-alive")
            }
            #expect(server.acceptedConnections == 1)
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        try await withServer { server in
            let (response, client) = try await exchange(server, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            #expect(response.status == 200)
            #expect(response.header("Connection") == "close")
            #expect(try await client.isClosedByPeer())
        }
    }

    @Test func headRequestGetsLengthButNoBody() async throws {
        try await withServer { server in
            let client = try connect(server)
            try client.send("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\nGET /g HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = try await client.readResponse(headRequest: true)
            #expect(head.header("Content-Length") == "7")
            #expect(try await client.readResponse().bodyText == "GET /g")
        }
    }

    @Test("a HEAD answer keeps the Content-Length its handler states (a proxy relaying its upstream's)")
    func headResponseKeepsTheStatedLength() async throws {
        // As the sidecar's proxy answers a HEAD: the upstream's fields, no body to send.
        let relaying: HTTPHandler = { request in
            let body: HTTPResponseBody = request.path == "/stream" ? .stream { _ in } : .bytes([])
            return HTTPResponse(headers: ["Content-Length": "123456"], body: body)
        }
        try await withServer(handler: relaying) { server in
            let client = try connect(server)
            for path in ["/stream", "/bytes"] {
                try client.send("HEAD \(path) HTTP/1.1\r\nHost: t\r\n\r\n")
                let head = try await client.readResponse(headRequest: true)
                #expect(head.status == 200)
                #expect(head.header("Content-Length") == "123456", "\(path): \(head)")
            }
            // No body followed: the connection is still in step.
            try client.send("GET /g HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await client.readResponse().header("Content-Length") == "0")
        }
    }

    @Test func streamedResponseIsChunked() async throws {
        let streaming: HTTPHandler = { _ in
            HTTPResponse(body: .stream { writer in
                for piece in ["one ", "two ", "three"] { try await writer.write(piece) }
            })
        }
        try await withServer(handler: streaming) { server in
            let client = try connect(server)
            try client.send("GET /s HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.header("Transfer-Encoding") == "chunked")
            #expect(response.bodyText == "one two three")
            try client.send("GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await client.readResponse().bodyText == "one two three")
        }
    }

    @Test func streamedResponseToHTTP10IsDelimitedByClose() async throws {
        let streaming: HTTPHandler = { _ in
            HTTPResponse(body: .stream { writer in try await writer.write("old "); try await writer.write("school") })
        }
        try await withServer(handler: streaming) { server in
            let (response, client) = try await exchange(server, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(response.header("Transfer-Encoding") == nil)
            #expect(response.header("Connection") == "close")
            #expect(response.bodyText == "old school")
            #expect(try await client.isClosedByPeer())
        }
    }

    @Test func handlerHeadersCannotBreakTheResponseHead() async throws {
        let sneaky: HTTPHandler = { _ in
            HTTPResponse(status: 200, reason: "OK\r\nX-Injected: 1", headers: ["X-Value": "a\r\nX-Injected: 2", "Content-Length": "999"],
                         body: .bytes(Array("ok".utf8)))
        }
        try await withServer(handler: sneaky) { server in
            let (response, _) = try await exchange(server, "GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(response.header("X-Injected") == nil)
            #expect(response.header("Content-Length") == "2")
            #expect(response.bodyText == "ok")
        }
    }

    @Test func listensOnEveryAddressOfAName() async throws {
        try await withServer(HTTPServerConfiguration(host: "localhost")) { server in
            let ports = Set(server.localAddresses.map(\.port))
            #expect(ports.count == 1)
            for address in server.localAddresses {
                let client = try RawSocketClient(connectTo: address)
                try client.send("GET /via HTTP/1.1\r\nHost: localhost\r\n\r\n")
                #expect(try await client.readResponse().bodyText == "GET /via")
            }
        }
    }

    @Test func servesOverIPv6Loopback() async throws {
        try await withServer(HTTPServerConfiguration(host: "::1")) { server in
            #expect(server.localAddress.isIPv6)
            #expect(server.localAddress.port != 0)
            let (response, _) = try await exchange(server, "GET /six HTTP/1.1\r\nHost: [::1]\r\n\r\n")
            #expect(response.bodyText == "GET /six")
        }
    }
}
