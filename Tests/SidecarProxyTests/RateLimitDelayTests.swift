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

// MARK: - A delayed request whose client only half-closed

/// A FIN the server takes as a half-close (with `-proxy-ignore-client-abort`, or from a client
/// that pipelined its requests) leaves a client that waits for its answers: a delayed request
/// is forwarded once its delay ends and the client gets the upstream's answer.
@Suite("Sidecar proxy: a rate-limit delay of a client that half-closed and waits")
struct RateLimitDelayHalfCloseTests {
    enum Waiting: String, CaseIterable, Sendable {
        /// `-proxy-ignore-client-abort`: one request, then shutdown(SHUT_WR).
        case ignoreClientAbort
        /// The default: two pipelined requests (the second is delayed), then shutdown(SHUT_WR).
        case pipelined
    }

    /// Before, the delay asked `clientHasLeft()`, which answered true for any FIN: the request
    /// was not forwarded and the waiting client was sent a 499 ("the client closed the
    /// connection while its request was delayed"), against the README (the flag keeps such
    /// requests; a pipelining client that half-closes gets every answer).
    @Test(arguments: Waiting.allCases, [true, false])
    func aDelayedRequestOfAHalfClosedClientIsForwarded(waiting: Waiting, inlineLane: Bool) async throws {
        let upstream = try await RecordingUpstream.start(name: "u")
        var configuration = proxyConfiguration([("u", upstream.address)])
        // The first request passes; the next waits 3 s.
        configuration.rateLimit = try RateLimitConfiguration(flags: [try LimitReqSpec.parse("rate=20r/m burst=5")])
        configuration.inlineLane = inlineLane
        configuration.ignoresClientAbort = waiting == .ignoreClientAbort
        try await withProxy(configuration) { proxy in
            let address = try #require(proxy.localAddress)
            let client = try RawSocketClient(connectTo: address, timeoutSeconds: 30)
            switch waiting {
            case .ignoreClientAbort:
                let first = HTTPClient()
                #expect(try await first.send(HTTPClientRequest(url: proxy.url + "/first")).status == 200)
                await first.shutdown()
                try client.send("GET /delayed HTTP/1.1\r\nHost: test\r\n\r\n")
            case .pipelined:
                try client.send("GET /first HTTP/1.1\r\nHost: test\r\n\r\nGET /delayed HTTP/1.1\r\nHost: test\r\n\r\n")
            }
            client.shutdownWrite()
            if waiting == .pipelined { #expect(try await client.readResponse().status == 200) }
            let delayed = try await client.readResponse()
            #expect(delayed.status == 200, "\(delayed)")
            #expect(upstream.requests.map(\.target) == ["/first", "/delayed"])
        }
        await upstream.stop()
    }
}
