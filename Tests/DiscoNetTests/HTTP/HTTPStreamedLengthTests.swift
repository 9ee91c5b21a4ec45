import DiscoNet
import DiscoTestKit
import Testing

// MARK: - Streamed bodies of a known length

/// `HTTPResponseBody.stream(length:)`: a streamed body sent with `Content-Length` instead of
/// chunked (or, for HTTP/1.0, delimited by the connection's close), as a proxy relays an
/// answer whose length its upstream stated; a producer that does not write exactly that many
/// bytes resets the connection, so a client never takes a wrong body as complete.
@Suite("HTTP server: streamed bodies of a known length")
struct HTTPStreamedLengthTests {
    /// Answers with a body streamed in `pieces`, announced as `length` bytes.
    static func responder(length: Int, pieces: [String]) -> HTTPResponder {
        HTTPResponder { _ in
            HTTPResponse(body: .stream(length: length) { writer in
                for piece in pieces { try await writer.write(piece) }
            })
        }
    }

    @Test(arguments: ["HTTP/1.1", "HTTP/1.0"])
    func theLengthIsAnnouncedAndTheConnectionStaysOpen(version: String) async throws {
        try await withServer(responder: Self.responder(length: 10, pieces: ["01234", "56789"])) { server in
            let client = try connect(server)
            let keepAlive = version == "HTTP/1.0" ? "Connection: keep-alive\r\n" : ""
            for _ in 0..<2 {
                try client.send("GET / \(version)\r\nHost: t\r\n\(keepAlive)\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200)
                #expect(response.header("Content-Length") == "10", "\(response)")
                #expect(response.header("Transfer-Encoding") == nil, "\(response)")
                #expect(response.bodyText == "0123456789")
            }
        }
    }

    /// A producer that stops short, or writes past the length, fails the response: the client
    /// gets no complete body, and the connection ends.
    @Test(arguments: [["0123"], ["0123", "456789ABCDEF"], ["0123456789ABCDEF"]])
    func aProducerThatMissesTheLengthEndsTheConnection(pieces: [String]) async throws {
        try await withServer(responder: Self.responder(length: 10, pieces: pieces)) { server in
            let client = try connect(server)
            try client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try? await client.readResponse()
            #expect(response == nil, "a body of the wrong length was taken as complete: \(String(describing: response))")
        }
    }
}
