import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

// MARK: - Interim (1xx) responses from the upstream

@Suite("Sidecar proxy: interim (1xx) responses are passed on as they arrive", .timeLimit(.minutes(3)))
struct InterimResponseTests {
    static let links = ["</style.css>; rel=preload; as=style", "</app.js>; rel=preload; as=script"]
    /// A `103 Early Hints` with two `Link` fields and hop-by-hop fields the proxy must drop.
    static let hint = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\nConnection: X-Hint-Secret\r\n"
        + "X-Hint-Secret: dropped\r\nKeep-Alive: timeout=5\r\nLink: </app.js>; rel=preload; as=script\r\n\r\n"
    static let final = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhinted"

    /// Answers `/warm` at once; `/hinted` with a 103, its final response held until released;
    /// `/continue-then-hint` the same after an unasked `100 Continue`; `/hinted-now` with a 103
    /// and the final response at once; `/hints-N` with N 103s and then (for at most the limit)
    /// the final response.
    static func upstream() async throws -> HeldResponseUpstream {
        try await HeldResponseUpstream { seen in
            let path = seen.target
            if path.hasPrefix("/hints-"), let count = Int(path.dropFirst("/hints-".count)) {
                let hints = String(repeating: hint, count: count)
                return count > HTTPResponseParser.maxInterimResponses ? .init(first: hints) : .init(first: hints + final)
            }
            switch path {
            case "/hinted": return .init(first: hint, held: final)
            case "/continue-then-hint": return .init(first: "HTTP/1.1 100 Continue\r\n\r\n" + hint, held: final)
            case "/hinted-now": return .init(first: hint + final)
            default: return .init(first: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            }
        }
    }

    /// A GET without a body takes the inline lane (once `/warm` has left an idle upstream
    /// connection on the proxy's one loop); a POST with a body takes the general path.
    static let lanes: [(method: String, body: String)] = [("GET", ""), ("POST", "body")]

    static func request(_ method: String, _ target: String, body: String, version: String = "1.1") -> String {
        let length = method == "POST" ? "Content-Length: \(body.utf8.count)\r\n" : ""
        return "\(method) \(target) HTTP/\(version)\r\nHost: x\r\n\(length)\r\n\(body)"
    }

    /// Expects `response` to be the upstream's 103 as a client gets it: both `Link` fields, in
    /// order, and no hop-by-hop field.
    static func expectHint(_ response: RawResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == 103, "\(response)", sourceLocation: sourceLocation)
        #expect(response.headers.filter { $0.name.lowercased() == "link" }.map(\.value) == links, "\(response)", sourceLocation: sourceLocation)
        let names = Set(response.headers.map { $0.name.lowercased() })
        #expect(names.isDisjoint(with: ["connection", "x-hint-secret", "keep-alive", "content-length"]), "\(response)",
                sourceLocation: sourceLocation)
    }

    /// Runs `body` with a client connected to a proxy in front of `upstream`, after `/warm`.
    static func withWarmClient(_ upstream: HeldResponseUpstream, _ body: (SidecarProxyServer, RawSocketClient) async throws -> Void) async throws {
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.threads = 1
        try await withProxy(configuration) { proxy in
            let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
            try client.send("GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await client.readResponse().bodyText == "ok")
            try await body(proxy, client)
        }
    }

    /// The client reads the 103 while the upstream still holds its final response back: the
    /// hint is passed on as it arrives, on both lanes, without its hop-by-hop fields.
    @Test(arguments: lanes)
    func earlyHintsReachTheClientBeforeTheFinalResponseExists(method: String, body: String) async throws {
        let upstream = try await Self.upstream()
        try await Self.withWarmClient(upstream) { proxy, client in
            let viewed = proxy.metrics.headViewRequests
            for _ in 0..<2 {
                try client.send(Self.request(method, "/hinted", body: body))
                Self.expectHint(try await client.readResponse())
                upstream.release()
                let final = try await client.readResponse()
                #expect(final.status == 200 && final.bodyText == "hinted", "\(final)")
            }
            if method == "GET" {
                #expect(proxy.metrics.headViewRequests == viewed + 2, "the GETs took the inline lane")
            }
        }
        #expect(upstream.requests.map(\.method) == ["GET", method, method])
        #expect(upstream.requests.last?.body == Array(body.utf8))
        await upstream.stop()
    }

    /// A GET the inline lane takes but hands to the async path (no idle upstream connection
    /// yet) gets its 103 the same way.
    @Test func earlyHintsReachTheClientWhenTheLaneHandsTheRequestOn() async throws {
        let upstream = try await Self.upstream()
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
            try client.send(Self.request("GET", "/hinted", body: ""))
            Self.expectHint(try await client.readResponse())
            upstream.release()
            let final = try await client.readResponse()
            #expect(final.status == 200 && final.bodyText == "hinted", "\(final)")
            #expect(proxy.metrics.headViewRequests == 0, "no idle upstream connection: not sent inline")
        }
        await upstream.stop()
    }

    /// A write sent on to the writer's sidecar: the 103 of the writer's upstream passes both
    /// sidecars as it arrives.
    @Test func earlyHintsFromTheWritersUpstreamReachTheClientAsTheyArrive() async throws {
        let writerUpstream = try await Self.upstream()
        let localUpstream = try await Self.upstream()
        try await withProxy(proxyConfiguration([("local", writerUpstream.address)]), nodeID: "b") { proxyB in
            let writer = FixedWriter(.remote(address: try #require(proxyB.localAddress).description, id: "b"))
            try await withProxy(proxyConfiguration([("local", localUpstream.address)]), nodeID: "a", writer: writer) { proxyA in
                let client = try RawSocketClient(connectTo: try #require(proxyA.localAddress), timeoutSeconds: 60)
                try client.send(Self.request("POST", "/hinted", body: "body"))
                Self.expectHint(try await client.readResponse())
                writerUpstream.release()
                let final = try await client.readResponse()
                #expect(final.status == 200 && final.bodyText == "hinted", "\(final)")
            }
        }
        #expect(writerUpstream.requests.map(\.method) == ["POST"], "the write reached the writer's upstream")
        #expect(localUpstream.requests.isEmpty)
        await writerUpstream.stop()
        await localUpstream.stop()
    }

    /// An HTTP/1.0 client gets no interim response (RFC 9110 §15.2), only the final one.
    @Test(arguments: lanes)
    func anHTTP10ClientGetsOnlyTheFinalResponse(method: String, body: String) async throws {
        let upstream = try await Self.upstream()
        try await Self.withWarmClient(upstream) { _, client in
            try client.send(Self.request(method, "/hinted-now", body: body, version: "1.0"))
            let final = try await client.readResponse()
            #expect(final.status == 200 && final.bodyText == "hinted", "\(final)")
        }
        await upstream.stop()
    }

    /// An upstream's `100 Continue` answered the proxy's own request: it is not passed on, and
    /// the 103 after it is.
    @Test(arguments: lanes)
    func anUpstreamContinueIsNotPassedOn(method: String, body: String) async throws {
        let upstream = try await Self.upstream()
        try await Self.withWarmClient(upstream) { _, client in
            try client.send(Self.request(method, "/continue-then-hint", body: body))
            Self.expectHint(try await client.readResponse())
            upstream.release()
            let final = try await client.readResponse()
            #expect(final.status == 200 && final.bodyText == "hinted", "\(final)")
        }
        await upstream.stop()
    }

    /// Up to the limit interim responses are passed on; an upstream that sends more gets the
    /// client a 502 naming the limit, after those it passed on.
    @Test(arguments: lanes)
    func moreInterimResponsesThanTheLimitGetA502(method: String, body: String) async throws {
        let limit = HTTPResponseParser.maxInterimResponses
        let upstream = try await Self.upstream()
        try await Self.withWarmClient(upstream) { _, client in
            try client.send(Self.request(method, "/hints-\(limit)", body: body))
            for _ in 0..<limit { Self.expectHint(try await client.readResponse()) }
            #expect(try await client.readResponse().bodyText == "hinted")

            try client.send(Self.request(method, "/hints-\(limit + 1)", body: body))
            for _ in 0..<limit { Self.expectHint(try await client.readResponse()) }
            let answer = try await client.readResponse()
            #expect(answer.status == 502, "\(answer)")
            #expect(answer.bodyText.contains("more than \(limit) interim (1xx) responses"), "\(answer.bodyText)")
        }
        await upstream.stop()
    }
}
