#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import DiscoNet
import DiscoTestKit
import Testing

/// The pieces a reverse proxy is made of, put together: a streaming responder forwards the
/// request body to an upstream through the pooled client while it arrives, and streams the
/// upstream's response body back as it is read.
@Suite("HTTP: a streaming reverse proxy built from the server and the client")
struct HTTPProxyCompositionTests {
    static let echo = HTTPResponder { request in
        HTTPResponse(headers: ["X-Upstream": "echo"], body: .stream { writer in
            for try await piece in request.body { try await writer.write(piece) }
        })
    }

    static func proxy(to upstream: SocketAddress, client: HTTPClient) -> HTTPResponder {
        HTTPResponder { request in
            var headers = request.headers
            for hopByHop in ["Host", "Connection", "Content-Length", "Transfer-Encoding", "Expect"] { headers.remove(hopByHop) }
            let forwarded = HTTPClientRequest(method: request.method, url: "http://\(upstream)\(request.target)", headers: headers,
                                              bodyStream: .sequence(request.body, length: request.body.declaredLength))
            let answer = try await client.execute(forwarded)
            var back = answer.headers
            for hopByHop in ["Connection", "Content-Length", "Transfer-Encoding", "Date"] { back.remove(hopByHop) }
            return HTTPResponse(status: answer.status, headers: back, body: .stream { writer in
                for try await piece in answer.body { try await writer.write(piece) }
            })
        }
    }

    @Test func bodiesStreamBothWaysAndTheUpstreamConnectionIsReused() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.limits.maxBodyBytes = 64 * 1024 * 1024
        try await withServer(configuration, responder: Self.echo) { upstream in
            let upstreamClient = HTTPClient()
            try await withServer(configuration, responder: Self.proxy(to: upstream.localAddress, client: upstreamClient)) { proxy in
                // 4 MiB: a 64 KiB pattern repeated, each copy stamped with its index (cheap to make
                // and to compare in a debug build; this test shares its threads with the others).
                let payload: [UInt8] = {
                    let pattern = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ $0 >> 11) }
                    var bytes: [UInt8] = []
                    bytes.reserveCapacity(64 * pattern.count)
                    for copy in 0..<64 {
                        bytes += pattern
                        bytes[bytes.count - 1] = UInt8(copy)
                    }
                    return bytes
                }()
                let client = HTTPClient()
                for round in 0..<2 {
                    let request = HTTPClientRequest(method: "PUT", url: "http://\(proxy.localAddress)/r\(round)", bodyStream: .writer { writer in
                        var offset = 0
                        while offset < payload.count {
                            let end = min(offset + 100_000, payload.count)
                            try await writer.write(Array(payload[offset..<end]))
                            offset = end
                        }
                    })
                    let response = try await client.execute(request)
                    #expect(response.status == 200)
                    #expect(response.headers["X-Upstream"] == "echo")
                    var received: [UInt8] = []
                    received.reserveCapacity(payload.count)
                    for try await piece in response.body { received.append(contentsOf: piece) }
                    #expect(received.count == payload.count)
                    let same = received.count == payload.count && received.withUnsafeBytes { got in
                        payload.withUnsafeBytes { want in
                            guard let got = got.baseAddress, let want = want.baseAddress else { return false }
                            return memcmp(got, want, payload.count) == 0
                        }
                    }
                    #expect(same, "the body came back changed")
                }
                // One upstream connection carried both exchanges: each went back to the pool
                // only after its body had been read to the end.
                #expect(await upstreamClient.connectionsOpened == 1)
            }
        }
    }
}
