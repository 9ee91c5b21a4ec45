import DiscoCore
import DiscoNet
import DiscoTestKit
import Testing

@Suite("HTTP client: the body limit bounds a streamed response's chunks, not its total")
struct HTTPClientStreamLimitTests {
    private static let limit = 1024 * 1024
    private static let piece = 64 * 1024
    /// Three times the limit, in many small chunks.
    private static let pieces = 3 * limit / piece

    private static func client() -> HTTPClient {
        HTTPClient(configuration: HTTPClientConfiguration(limits: HTTPParserLimits(maxBodyBytes: limit)))
    }

    /// Streams `pieces` chunks of `size` bytes, each filled with its index.
    private static func streaming(pieces: Int, size: Int) -> HTTPResponder {
        HTTPResponder { _ in
            HTTPResponse(body: .stream { writer in
                for index in 0..<pieces {
                    try await writer.write([UInt8](repeating: UInt8(truncatingIfNeeded: index), count: size))
                }
            })
        }
    }

    @Test func aStreamLongerThanTheLimitIsDeliveredWhole() async throws {
        let client = Self.client()
        try await withServer(responder: Self.streaming(pieces: Self.pieces, size: Self.piece)) { server in
            let response = try await client.execute(HTTPClientRequest(url: "http://\(server.localAddress)/watch"))
            #expect(response.headers["Transfer-Encoding"] == "chunked")
            var total = 0
            for try await piece in response.body { total += piece.count }
            #expect(total == Self.pieces * Self.piece)
        }
        await client.shutdown()
    }

    @Test func theDiscoveryStreamTransportDeliversMoreThanTheLimit() async throws {
        let client = Self.client()
        try await withServer(responder: Self.streaming(pieces: Self.pieces, size: Self.piece)) { server in
            let stream = try await client.openStream(
                HTTPExchangeRequest(method: "POST", url: "http://\(server.localAddress)/v3/watch"), timeout: .seconds(10))
            var total = 0
            while let piece = try await stream.next() { total += piece.count }
            #expect(total == Self.pieces * Self.piece)
            stream.close()
        }
        await client.shutdown()
    }

    @Test func aBufferedResponseIsStillBoundedAsAWhole() async throws {
        let client = Self.client()
        try await withServer(responder: Self.streaming(pieces: Self.pieces, size: Self.piece)) { server in
            do {
                let response = try await client.send(HTTPClientRequest(url: "http://\(server.localAddress)/all"))
                Issue.record("a \(response.body.count)-byte body passed a \(Self.limit)-byte limit")
            } catch let error as HTTPClientError {
                #expect(error.code == .malformedResponse)
                #expect("\(error)".contains("body larger than the limit"))
            }
        }
        await client.shutdown()
    }

    @Test func oneChunkLargerThanTheLimitStillFailsAStream() async throws {
        let client = Self.client()
        try await withServer(responder: Self.streaming(pieces: 1, size: 2 * Self.limit)) { server in
            // The chunk's size line may arrive with the head: the error may come from either.
            do {
                let response = try await client.execute(HTTPClientRequest(url: "http://\(server.localAddress)/huge"))
                for try await _ in response.body {}
                Issue.record("a chunk larger than the limit was read")
            } catch let error as HTTPClientError {
                #expect(error.code == .malformedResponse)
                #expect("\(error)".contains("chunk larger than the limit"))
            }
        }
        await client.shutdown()
    }
}
