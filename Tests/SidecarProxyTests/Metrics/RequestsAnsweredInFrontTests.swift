import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Testing

// MARK: - Requests answered before the proxy forwards them

/// `disco_proxy_requests_total` counted only the requests that reached the proxy's forwarding:
/// a rate limit's rejection (429, 503), an API key's refusal (401, 403), and whatever the HTTP
/// server refused itself (a head it could not read: 400, 414, 431, 417, 408) were answered and
/// never counted, so an error rate computed from it left them all out. Each now counts with the
/// status its client was sent: under the route the request matches when the middleware answered
/// it, under `(edge)` (method as sent when the head was read, else empty) when the server did.
@Suite("Sidecar proxy: requests refused before forwarding count in disco_proxy_requests_total", .timeLimit(.minutes(2)))
struct RequestsAnsweredInFrontTests {
    /// The series of `disco_proxy_requests_total` from `/.sidecar/metrics`: labels → count.
    static func requestCounts(_ proxy: SidecarProxyServer) async throws -> [String: Int] {
        let client = HTTPClient()
        let text = try await client.send(HTTPClientRequest(url: proxy.url + "/.sidecar/metrics")).bodyText
        await client.shutdown()
        var counts: [String: Int] = [:]
        let prefix = "disco_proxy_requests_total{"
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            guard let end = line.lastIndex(of: "}") else { continue }
            counts[String(line[line.index(line.startIndex, offsetBy: prefix.count)..<end])] =
                Int(line[line.index(after: end)...].trimmingPrefix(" "))
        }
        return counts
    }

    static func series(_ route: String, _ method: String, _ code: Int) -> String {
        "route=\"\(route)\",method=\"\(method)\",code=\"\(code)\""
    }

    // MARK: Rate limits

    @Test(arguments: [true, false])
    func rateLimitRejectionsCountUnderTheirRoute(inlineLane: Bool) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.inlineLane = inlineLane
        configuration.rateLimit = try RateLimitConfiguration(flags: [
            try LimitReqSpec.parse("zone=per_ip rate=1r/m burst=1 nodelay status=429"),
            try LimitReqSpec.parse("zone=per_app key=header:X-App rate=1r/m nodelay status=503"),
        ])
        try await withProxy(configuration) { proxy in
            #expect(try await sendOne(to: proxy, from: 2) == 200)
            #expect(try await sendOne(to: proxy, from: 2) == 200)
            #expect(try await sendOne(to: proxy, from: 2) == 429)
            #expect(try await sendOne("POST", to: proxy, from: 2) == 429)
            #expect(try await sendOne(to: proxy, from: 3, [("X-App", "a")]) == 200)
            #expect(try await sendOne(to: proxy, from: 4, [("X-App", "a")]) == 503)
            let counts = try await Self.requestCounts(proxy)
            #expect(counts == [Self.series("reads", "GET", 200): 3, Self.series("reads", "GET", 429): 1,
                               Self.series("writes", "POST", 429): 1, Self.series("reads", "GET", 503): 1], "\(counts)")
        }
        await upstream.stop()
    }

    // MARK: API keys

    /// With API keys alone (the key middleware, the inline lane's check) and behind a
    /// `key=app_id` zone (which decides around the check).
    @Test(arguments: [(true, false), (false, false), (true, true), (false, true)])
    func apiKeyRefusalsCountUnderTheirRoute(inlineLane: Bool, appIDZone: Bool) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        let store = InMemoryAPIKeyStore()
        let key = try APIKey.generate()
        store.put(try APIKeyRecord.hashing(appID: "app1", key: key))
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.inlineLane = inlineLane
        configuration.apiKeys = APIKeySettings(enabled: true, methods: .only(["GET", "POST"]))
        if appIDZone {
            configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("zone=per_app key=app_id rate=1r/m burst=20 nodelay")])
        }
        try await withProxy(configuration, keys: store) { proxy in
            #expect(try await sendOne(to: proxy, from: 2) == 401)
            #expect(try await sendOne(to: proxy, from: 2, [("app_id", "app1"), ("app_key", "wrong")]) == 403)
            #expect(try await sendOne(to: proxy, from: 2, [("app_id", "app2"), ("app_key", key)]) == 403)
            #expect(try await sendOne(to: proxy, from: 2, [("app_id", "app1"), ("app_key", key)]) == 200)
            #expect(try await sendOne("POST", to: proxy, from: 2) == 401)
            #expect(try await sendOne("POST", to: proxy, from: 2, [("app_id", "app1"), ("app_key", key)]) == 200)
            let counts = try await Self.requestCounts(proxy)
            #expect(counts == [Self.series("reads", "GET", 401): 1, Self.series("reads", "GET", 403): 2, Self.series("reads", "GET", 200): 1,
                               Self.series("writes", "POST", 401): 1, Self.series("writes", "POST", 200): 1], "\(counts)")
            #expect(proxy.metrics.authFailures == 4)
        }
        await upstream.stop()
    }

    // MARK: The server's own refusals

    enum EdgeRefusal: String, CaseIterable, Sendable {
        case obsFold, longTarget, largeHeader, unknownExpectation, unfinishedHead

        var request: String {
            switch self {
            case .obsFold: "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"
            case .longTarget: "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n"
            case .largeHeader: "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 17_000) + "\r\n\r\n"
            case .unknownExpectation: "GET / HTTP/1.1\r\nHost: x\r\nExpect: something\r\n\r\n"
            // The header timeout (10 s) answers it.
            case .unfinishedHead: "GET / HTTP/1.1\r\nHost: x\r\n"
            }
        }

        var status: Int {
            switch self {
            case .obsFold: 400
            case .longTarget: 414
            case .largeHeader: 431
            case .unknownExpectation: 417
            case .unfinishedHead: 408
            }
        }

        /// The method label: as sent when the head was read whole.
        var method: String { self == .unknownExpectation ? "GET" : "" }
    }

    @Test(arguments: EdgeRefusal.allCases)
    func theServersOwnRefusalsCountAtTheEdge(refusal: EdgeRefusal) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
            try client.send(refusal.request)
            let response = try await client.readResponse()
            #expect(response.status == refusal.status, "\(response)")
            try await waitUntil("the refusal to be counted", timeout: .seconds(60)) { proxy.metrics.requests(status: refusal.status) == 1 }
            let counts = try await Self.requestCounts(proxy)
            #expect(counts == [Self.series("(edge)", refusal.method, refusal.status): 1], "\(counts)")
            #expect(upstream.requests.isEmpty)
        }
        await upstream.stop()
    }

    /// A malformed chunk sent with its head: answered 400 by the server, counted once, whether
    /// the server refused it before its handler began (at the edge) or while the proxy read its
    /// body (under its route).
    @Test func aMalformedChunkWithItsHeadCountsOnce() async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
            try client.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nhello\r\n0\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 400, "\(response)")
            try await waitUntil("the refusal to be counted", timeout: .seconds(60)) { proxy.metrics.requests(status: 400) >= 1 }
            let counts = try await Self.requestCounts(proxy)
            #expect(counts.values.reduce(0, +) == 1, "\(counts)")
            #expect(counts[Self.series("(edge)", "", 400)] == 1 || counts[Self.series("writes", "POST", 400)] == 1, "\(counts)")
        }
        await upstream.stop()
    }
}
