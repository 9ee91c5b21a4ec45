// MARK: - Request bodies as streams

/// Where a streamed request body comes from (the server connection, or a test double).
protocol HTTPBodySource: Sendable {
    /// The next piece, nil at the end of the body.
    func next() async throws -> [UInt8]?
    /// Trailer fields of a chunked body, once the body has been read to its end.
    func trailers() async -> HTTPHeaders
}

/// The body of a request as the server receives it: pieces read on demand, with back-pressure.
///
/// The connection reads ahead only a bounded amount (``HTTPServerConfiguration/requestBodyBuffer``);
/// while the handler does not take pieces, the server stops reading the socket, so memory stays
/// bounded whatever the body size. Reading the body for the first time answers the client's
/// `Expect: 100-continue`. A body is read once, by one task; pieces are never empty.
///
/// ```swift
/// for try await piece in request.body { try await upstream.write(piece) }
/// let whole = try await request.body.collect(upTo: 1 << 20)   // 413 error beyond 1 MiB
/// ```
public struct HTTPRequestBody: AsyncSequence, Sendable {
    public typealias Element = [UInt8]

    enum Storage: Sendable {
        case bytes([UInt8])
        case source(any HTTPBodySource)
    }

    let storage: Storage
    /// The length the request declared (`Content-Length`), or nil for a chunked body.
    public let declaredLength: Int?

    init(source: any HTTPBodySource, declaredLength: Int?) {
        storage = .source(source)
        self.declaredLength = declaredLength
    }

    private init(bytes: [UInt8]) {
        storage = .bytes(bytes)
        declaredLength = bytes.count
    }

    /// No body.
    public static let empty = HTTPRequestBody(bytes: [])

    /// A body of exactly these bytes (for requests built in code, such as tests).
    public static func bytes(_ bytes: [UInt8]) -> HTTPRequestBody { HTTPRequestBody(bytes: bytes) }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(storage: storage) }

    /// Reads pieces of the body in order.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var storage: Storage?

        public mutating func next() async throws -> [UInt8]? {
            switch storage {
            case nil:
                return nil
            case .bytes(let bytes)?:
                storage = nil
                return bytes.isEmpty ? nil : bytes
            case .source(let source)?:
                guard let piece = try await source.next() else {
                    storage = nil
                    return nil
                }
                return piece
            }
        }
    }

    // MARK: Whole bodies

    /// Reads the whole body. Throws an ``HTTPParseError`` with status 413 when it is (or declares
    /// to be) larger than `limit` bytes; a declared length over the limit is refused before any
    /// byte is read, so no `100 Continue` is sent for it.
    public func collect(upTo limit: Int) async throws -> [UInt8] {
        if let declaredLength, declaredLength > limit { throw Self.tooLarge(limit) }
        if case .bytes(let bytes) = storage { return bytes }
        var whole: [UInt8] = []
        if let declaredLength { whole.reserveCapacity(declaredLength) }
        for try await piece in self {
            guard piece.count <= limit - whole.count else { throw Self.tooLarge(limit) }
            whole.append(contentsOf: piece)
        }
        return whole
    }

    /// Trailer fields of a chunked body; empty until the body has been read to its end.
    public var trailers: HTTPHeaders {
        get async {
            guard case .source(let source) = storage else { return HTTPHeaders() }
            return await source.trailers()
        }
    }

    static func tooLarge(_ limit: Int) -> HTTPParseError {
        HTTPParseError(status: 413, reason: "body larger than the limit of \(limit) bytes")
    }
}
