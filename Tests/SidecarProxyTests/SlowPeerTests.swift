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
        let upstream = try await HTTPServer.start(responder: HTTPResponder { _ in
            HTTPResponse(headers: ["Content-Type": "application/octet-stream"], body: .stream { writer in
                for _ in 0..<pieces { try await writer.write(piece) }
            })
        })
        var configuration = proxyConfiguration([("big", upstream.localAddress)])
        configuration.readTimeout = .milliseconds(500)
        try await withProxy(configuration) { proxy in
            let client = try await TCPConnection.connect(to: try #require(proxy.localAddress))
            try await client.write(Array("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
            var received = try #require(try await client.read())
            // The client stops reading (a paused download) for several read timeouts: the
            // buffers fill and the proxy waits for the client, not for the upstream.
            try await Task.sleep(for: .seconds(3))
            while let more = try await client.read() { received += more }
            client.close()
            let text = String(decoding: received.prefix(200), as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200"), "\(text.debugDescription)")
            #expect(received.suffix(7) == Array("\r\n0\r\n\r\n".utf8), "the body ended without its last chunk after \(received.count) bytes")
            #expect(received.count > pieces * piece.count)
        }
        await upstream.shutdown(gracePeriod: .seconds(1))
    }
}
