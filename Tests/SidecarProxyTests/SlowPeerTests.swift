import DiscoCore
import DiscoNet
import DiscoTestKit
import Sidecar
import SidecarProxy
import Testing

/// The read timeout bounds waits for the upstream, never waits for a slow client.
@Suite("Sidecar proxy: slow clients and the read timeout")
struct SlowPeerTests {
    /// A client that stops reading a large streamed answer for longer than the read timeout, then
    /// reads on, gets the whole body: the upstream was never the one waited for. The watchdog
    /// used to count the time the proxy spent waiting for the client to take a piece, abandoned
    /// the upstream's body and cut the download off without its last chunk.
    @Test func aClientThatPausesLongerThanTheReadTimeoutGetsTheWholeBody() async throws {
        let pieces = 512
        let piece = [UInt8](repeating: 0x61, count: 64 * 1024)
        // The upstream writes its whole answer (32 MiB, chunked) from a thread of its own, so
        // the proxy never waits for it: on a loaded machine an upstream in this process was
        // late whenever the threads it shares with other tests were busy, which the watchdog
        // rightly counted against it.
        var answer = Array(("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                            + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").utf8)
        answer.reserveCapacity(pieces * (piece.count + 16) + answer.count)
        for _ in 0..<pieces { answer += Array("10000\r\n".utf8) + piece + Array("\r\n".utf8) }
        answer += Array("0\r\n\r\n".utf8)
        let upstream = try BlockingTCPUpstream(answer: answer)
        var configuration = proxyConfiguration([("big", upstream.address)])
        // Longer than the proxy itself stalls on a loaded machine (it runs in this process too,
        // and a stall of 3 s was seen), and a third of the pause below.
        configuration.readTimeout = .seconds(4)
        try await withProxy(configuration) { proxy in
            let client = try await TCPConnection.connect(to: try #require(proxy.localAddress))
            try await client.write(Array("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            var received = try #require(try await client.read())
            // The client stops reading (a paused download) for three read timeouts: the
            // buffers fill and the proxy waits for the client, not for the upstream.
            try await Task.sleep(for: .seconds(12))
            while let more = try await client.read() { received += more }
            client.close()
            let text = String(decoding: received.prefix(200), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200"), "\(text.debugDescription)")
            #expect(received.suffix(7) == Array("\r\n0\r\n\r\n".utf8), "the body ended without its last chunk after \(received.count) bytes")
            #expect(received.count > pieces * piece.count)
        }
        await upstream.stop()
    }

    /// A client whose streamed upload takes longer than the read timeout, sending all along, gets
    /// the upstream's answer: the read timeout bounds the wait for the upstream once the body has
    /// gone, not the upload. It used to bound the whole exchange up to the response head, so an
    /// upload still under way when it ran out was cut off with a 504.
    @Test func anUploadThatTakesLongerThanTheReadTimeoutIsAnswered() async throws {
        let upstream = try await HTTPServer.start(responder: HTTPResponder { request in
            var bytes = 0
            for try await piece in request.body { bytes += piece.count }
            return .text("got \(bytes)")
        })
        var configuration = proxyConfiguration([("up", upstream.localAddress)])
        // Longer than this process stalls on a loaded machine (the proxy and the upstream both
        // run in it, and a stall of 3 s was seen), a third of the upload.
        configuration.readTimeout = .seconds(4)
        try await withProxy(configuration) { proxy in
            let client = HTTPClient()
            var request = HTTPClientRequest(method: "POST", url: proxy.url + "/upload")
            // A client on a slow link: a piece every 100 ms for at least twelve seconds, three read timeouts.
            request.bodyStream = .writer { writer in
                for _ in 0..<120 {
                    try await writer.write([UInt8](repeating: 0x62, count: 1000))
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            let response = try await client.send(request, timeout: .seconds(60))
            #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
            #expect(String(decoding: response.body, as: UTF8.self) == "got 120000")
            await client.shutdown()
        }
        await upstream.shutdown(gracePeriod: .seconds(1))
    }

    /// The upstream is still waited for: one that takes a streamed upload and never answers is a
    /// 504 once the read timeout has passed after the body's end.
    @Test func anUploadToAnUpstreamThatNeverAnswersIs504() async throws {
        let upstream = try await ScriptedTCPUpstream(script: nil)
        var configuration = proxyConfiguration([("silent", upstream.address)])
        configuration.readTimeout = .milliseconds(500)
        try await withProxy(configuration) { proxy in
            let client = HTTPClient()
            var request = HTTPClientRequest(method: "POST", url: proxy.url + "/upload")
            request.bodyStream = .writer { writer in try await writer.write([UInt8](repeating: 0x63, count: 200_000)) }
            let response = try await client.send(request, timeout: .seconds(60))
            #expect(response.status == 504)
            await client.shutdown()
        }
        await upstream.stop()
    }
}
