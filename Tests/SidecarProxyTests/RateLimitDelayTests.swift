import DiscoCore
import DiscoNet
import DiscoTestKit
import RateLimitCore
import Sidecar
import SidecarProxy
import Testing

// MARK: - A delayed request whose client leaves

/// nginx holds a delayed request with `ngx_http_test_reading` watching the client: when the
/// client closes during the delay the request ends (499) and never reaches the upstream. The
/// proxy must do the same, through the middleware and through the inline lane alike.
@Suite("Sidecar proxy: a rate-limit delay outlived by its client")
struct RateLimitDelayTests {
    @Test(arguments: [true, false])
    func aDelayedRequestIsNotForwardedOnceItsClientHasLeft(inlineLane: Bool) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        var configuration = proxyConfiguration([("u", upstream.address)])
        configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("rate=20r/m burst=5")])
        configuration.inlineLane = inlineLane
        try await withProxy(configuration) { proxy in
            let address = try #require(proxy.localAddress)
            let client = HTTPClient()
            // The first request passes; the second waits up to 3 s (long enough that a loaded
            // machine notices its client leave within it), and its client leaves as soon as the
            // proxy has decided to hold it.
            #expect(try await client.send(HTTPClientRequest(url: proxy.url + "/first")).status == 200)
            let leaving = try await TCPConnection.connect(to: address)
            try await leaving.write(Array("GET /gone HTTP/1.1\r\nHost: test\r\n\r\n".utf8))
            try await waitUntil("the proxy to delay /gone") { proxy.metrics.rateLimitDecisions("delayed") == 1 }
            leaving.close()
            // Charged after /gone, this one waits 3 s longer: when it reaches the upstream,
            // /gone's delay has long ended.
            #expect(try await client.send(HTTPClientRequest(url: proxy.url + "/marker")).status == 200)
            #expect(upstream.requests.map(\.target) == ["/first", "/marker"], "a request whose client left is not forwarded")
            await client.shutdown()
        }
        await upstream.stop()
    }
}
