import DiscoNet
import DiscoTestKit
import Testing

@Suite("HTTP client requests to a parsed origin")
struct HTTPOriginTests {
    @Test func requestsToAnOriginReachTheirTargetsOnOnePooledConnection() async throws {
        try await withServer { server in
            let client = HTTPClient()
            let origin = try HTTPOrigin("http://\(server.localAddress)")
            #expect(origin.description == "http://\(server.localAddress)")
            for target in ["/a", "/b?x=1", "/c/d"] {
                let response = try await client.send(HTTPClientRequest(origin: origin, target: target))
                #expect(response.bodyText == "GET \(target)")
            }
            let post = try await client.send(HTTPClientRequest(method: "POST", origin: origin, target: "/p", body: Array("xyz".utf8)))
            #expect(post.bodyText == "POST /p body=xyz")
            #expect(await client.connectionsOpened == 1)
            await client.shutdown()
        }
    }

    @Test func theURLOfAnOriginRequestIsSpelledOutAndCanBeReplaced() throws {
        let origin = try HTTPOrigin("http://127.0.0.1:8080")
        var request = HTTPClientRequest(origin: origin, target: "/x?y=1")
        #expect(request.url == "http://127.0.0.1:8080/x?y=1")
        request.url = "http://127.0.0.1:9090/z"
        #expect(request.url == "http://127.0.0.1:9090/z")
    }

    @Test func anOriginWithAPathIsRefused() {
        #expect(throws: HTTPClientError(.invalidURL, host: "http://127.0.0.1:8080/api",
                                        detail: "expected http://host[:port] or https://host[:port] without a path")) {
            try HTTPOrigin("http://127.0.0.1:8080/api")
        }
        #expect(throws: HTTPClientError.self) { try HTTPOrigin("ftp://127.0.0.1") }
    }

    @Test func aTargetThatIsNotAPathOrHoldsControlCharactersIsRefusedBeforeSending() async throws {
        let origin = try HTTPOrigin("http://127.0.0.1:9")
        let client = HTTPClient()
        await #expect(throws: HTTPClientError(.invalidURL, host: "127.0.0.1:9", detail: "the target must start with / (or be * for OPTIONS)")) {
            try await client.send(HTTPClientRequest(origin: origin, target: "x"))
        }
        // `*` only for OPTIONS (RFC 9112 §3.2.4).
        await #expect(throws: HTTPClientError(.invalidURL, host: "127.0.0.1:9", detail: "the target must start with / (or be * for OPTIONS)")) {
            try await client.send(HTTPClientRequest(method: "GET", origin: origin, target: "*"))
        }
        await #expect(throws: HTTPClientError(.invalidURL, host: "127.0.0.1:9", detail: "whitespace or control character in path")) {
            try await client.send(HTTPClientRequest(origin: origin, target: "/a b"))
        }
        await client.shutdown()
    }
}
