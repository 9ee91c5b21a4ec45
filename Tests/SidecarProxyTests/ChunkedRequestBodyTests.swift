import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

// MARK: - Chunked request bodies on their way to the upstream

@Suite("Sidecar proxy: chunked request bodies", .timeLimit(.minutes(2)))
struct ChunkedRequestBodyTests {
    private static func chunked(_ pieces: [String]) -> String {
        pieces.map { String($0.utf8.count, radix: 16) + "\r\n" + $0 + "\r\n" }.joined() + "0\r\n\r\n"
    }

    /// A small chunked body reaches the upstream whole with a `Content-Length`, as nginx sends
    /// it: an upstream that takes no chunked request (an HTTP/1.0 server, which the proxy cannot
    /// know it is not before its first answer) would otherwise read the chunks as its next request.
    @Test func aSmallChunkedBodyIsSentWithItsLength() async throws {
        let upstream = try await RecordingUpstream.start(name: "U")
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 30)
            try client.send("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + Self.chunked(["hello", " world"]))
            let answer = try await client.readResponse()
            #expect(answer.status == 200, "\(answer)")
            #expect(answer.bodyText == "U POST /up 11")
            let seen = try #require(upstream.requests.first)
            #expect(seen.headers["Content-Length"] == "11")
            #expect(seen.headers["Transfer-Encoding"] == nil)
        }
        await upstream.stop()
    }

    /// One longer than the whole-body limit still streams, chunked, every byte of it.
    @Test func aLargeChunkedBodyStillStreams() async throws {
        let upstream = try await RecordingUpstream.start(name: "U")
        try await withProxy(proxyConfiguration([("u", upstream.address)])) { proxy in
            let client = try RawSocketClient(connectTo: try #require(proxy.localAddress), timeoutSeconds: 30)
            let piece = String(repeating: "z", count: 25_000)
            try client.send("PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + Self.chunked(Array(repeating: piece, count: 4)))
            let answer = try await client.readResponse()
            #expect(answer.status == 200, "\(answer)")
            #expect(answer.bodyText == "U PUT /up 100000")
            let seen = try #require(upstream.requests.first)
            #expect(seen.headers["Transfer-Encoding"] == "chunked")
            #expect(seen.headers["Content-Length"] == nil)
        }
        await upstream.stop()
    }
}
