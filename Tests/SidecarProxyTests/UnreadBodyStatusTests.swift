import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

// MARK: - A request body the server could not read: the status the client was sent

/// When the server fails to read a request body (the client stalls for the idle timeout, sends
/// a malformed chunk or a trailer section past its limit), it answers the request itself (408,
/// 400, 431) and closes the connection; the proxy's own answer is dropped. The proxy counted
/// every such request as 400 in `disco_proxy_requests_total`, whatever the client was sent: a
/// stalled upload showed up as a client error of another kind, and no 408 was ever counted.
@Suite("Sidecar proxy: a request body that could not be read counts with the status its client was sent",
       .timeLimit(.minutes(2)))
struct UnreadBodyStatusTests {
    enum Body: String, CaseIterable, Sendable {
        /// A fixed length within the whole-body limit; a tenth of it comes.
        case smallLength
        /// Chunked; one chunk comes, never the last.
        case smallChunked
        /// A fixed length past the whole-body limit (streamed to the upstream); a tenth comes.
        case streamedLength
        /// Chunked past the whole-body limit (streamed); one large chunk comes, never the last.
        case streamedChunked
        /// Streamed chunked, then the last chunk with a trailer section past the server's limit (4 KiB).
        case oversizedTrailers
        /// Streamed chunked, then a chunk-size line that is not hexadecimal.
        case malformedChunk

        static let head = "PUT /up HTTP/1.1\r\nHost: x\r\n"
        static let chunked = head + "Transfer-Encoding: chunked\r\n\r\n"
        static let largeChunk = String(100_000, radix: 16) + "\r\n" + String(repeating: "b", count: 100_000) + "\r\n"

        /// What the client sends first.
        var start: String {
            switch self {
            case .smallLength: Self.head + "Content-Length: 1000\r\n\r\n" + String(repeating: "b", count: 100)
            case .smallChunked: Self.chunked + "5\r\nhello\r\n"
            case .streamedLength: Self.head + "Content-Length: 1000000\r\n\r\n" + String(repeating: "b", count: 100_000)
            case .streamedChunked, .oversizedTrailers, .malformedChunk: Self.chunked + Self.largeChunk
            }
        }

        /// What it sends once the proxy has connected to the upstream to stream the body (the
        /// request is then surely being handled, not refused with its head); nil: nothing more.
        var rest: String? {
            switch self {
            case .smallLength, .smallChunked, .streamedLength, .streamedChunked: nil
            case .oversizedTrailers: "0\r\nX-Trailer: " + String(repeating: "t", count: 5000) + "\r\n\r\n"
            case .malformedChunk: "zz\r\nhello\r\n"
            }
        }

        /// What the server answers.
        var status: Int {
            switch self {
            case .smallLength, .smallChunked, .streamedLength, .streamedChunked: 408
            case .oversizedTrailers: 431
            case .malformedChunk: 400
            }
        }
    }

    @Test(arguments: Body.allCases)
    func theRequestCountsWithTheServersStatus(body: Body) async throws {
        // Takes the request head, then holds the connection without answering.
        let upstream = try await ScriptedTCPUpstream(script: nil)
        var configuration = proxyConfiguration([("u", upstream.address)])
        // A stalled body is answered after this much silence; a body whose bad part the test
        // sends later is given all the time a loaded machine may take to send it.
        configuration.clientIdleTimeout = body.rest == nil ? .seconds(1) : .seconds(60)
        try await withProxy(configuration) { proxy in
            let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 60)
            try client.send(body.start)
            if let rest = body.rest {
                try await waitUntil("the proxy to stream the body to the upstream") { upstream.connections == 1 }
                try client.send(rest)
            }
            let response = try await client.readResponse()
            #expect(response.status == body.status, "\(response)")
            try await waitUntil("the request to be counted", timeout: .seconds(60)) {
                [400, 408, 431, 499, 502].map { proxy.metrics.requests(status: $0) }.reduce(0, +) == 1
            }
            #expect(proxy.metrics.requests(status: body.status) == 1, "counted as the client was answered: \(body.status)")
            #expect(proxy.metrics.upstreamFailures("u") == 0, "the upstream did not fail")
        }
        await upstream.stop()
    }
}
