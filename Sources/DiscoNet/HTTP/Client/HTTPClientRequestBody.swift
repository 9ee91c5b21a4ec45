// MARK: - Request bodies produced while they are sent

/// A request body for ``HTTPClient`` produced piece by piece while it is sent, so its size does
/// not matter: each `write` returns once the connection has taken the piece (back-pressure).
///
/// The body goes out chunked, or with `Content-Length` when `length` is given (then the producer
/// must write exactly that many bytes). It is sent while the response is read, so a server that
/// answers as it reads (an echo, a proxy) works. A streamed body is never replayed: such a
/// request is not retried on a stale pooled connection.
public struct HTTPClientRequestBody: Sendable {
    /// The exact length, or nil for chunked transfer coding.
    public let length: Int?
    let produce: @Sendable (HTTPBodyWriter) async throws -> Void

    /// A body written by `produce` through the writer.
    public static func writer(length: Int? = nil, _ produce: @escaping @Sendable (HTTPBodyWriter) async throws -> Void) -> HTTPClientRequestBody {
        HTTPClientRequestBody(length: length, produce: produce)
    }

    /// A body made of the pieces of `sequence`, in order (a server request body, for a proxy).
    public static func sequence<Pieces: AsyncSequence & Sendable>(_ sequence: Pieces, length: Int? = nil) -> HTTPClientRequestBody
    where Pieces.Element == [UInt8] {
        HTTPClientRequestBody(length: length) { writer in
            for try await piece in sequence { try await writer.write(piece) }
        }
    }
}

/// The producer of a streamed request body broke its promise (wrote more or fewer bytes than
/// its declared length).
struct HTTPClientBodyLengthMismatch: Error, CustomStringConvertible {
    let declared: Int
    let written: Int
    var description: String {
        written > declared
            ? "the request body stream wrote more than its declared length of \(declared) bytes"
            : "the request body stream ended after \(written) of its declared \(declared) bytes"
    }
}
