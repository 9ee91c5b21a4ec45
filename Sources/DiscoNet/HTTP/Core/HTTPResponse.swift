// MARK: - Responses

/// A response from a handler: status, headers and a body that is either bytes or a stream.
///
/// The server adds `Content-Length` (or chunked framing for streams) and `Connection` itself;
/// handlers set everything else.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// The reason phrase; defaults to the standard one for `status`.
    public var reason: String
    public var headers: HTTPHeaders
    public var body: HTTPResponseBody

    public init(status: Int = 200, reason: String? = nil, headers: HTTPHeaders = HTTPHeaders(), body: HTTPResponseBody = .empty) {
        self.status = status
        self.reason = reason ?? HTTPStatus.reasonPhrase(status)
        self.headers = headers
        self.body = body
    }

    /// A response with `bytes` as its body.
    public init(status: Int = 200, headers: HTTPHeaders = HTTPHeaders(), bytes: [UInt8]) {
        self.init(status: status, headers: headers, body: .bytes(bytes))
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: .bytes(Array(text.utf8)))
    }
}

/// The body of a response: fixed bytes (sent with `Content-Length`), a stream of pieces (sent
/// chunked to HTTP/1.1 clients, and delimited by closing the connection for HTTP/1.0; or with
/// `Content-Length` when its length is known), or a hand-off of the connection itself after
/// `101 Switching Protocols` or a `2xx` to `CONNECT`.
public struct HTTPResponseBody: Sendable {
    enum Storage: Sendable {
        case bytes([UInt8])
        /// `length`: the body's exact length when known (sent as `Content-Length`).
        case stream(@Sendable (HTTPBodyWriter) async throws -> Void, length: Int?)
        case handOff(@Sendable (HTTPUpgradedConnection) async -> Void)
    }

    let storage: Storage

    /// No body.
    public static let empty = HTTPResponseBody(storage: .bytes([]))

    /// A body of exactly these bytes.
    public static func bytes(_ bytes: [UInt8]) -> HTTPResponseBody { HTTPResponseBody(storage: .bytes(bytes)) }

    /// The bytes of a fixed body; nil for a streamed one.
    public var fixedBytes: [UInt8]? {
        if case .bytes(let bytes) = storage { return bytes }
        return nil
    }

    /// A streamed body: `produce` writes pieces through the writer and returns when done. Each
    /// `write` waits while the connection's send buffer is full.
    public static func stream(_ produce: @escaping @Sendable (HTTPBodyWriter) async throws -> Void) -> HTTPResponseBody {
        HTTPResponseBody(storage: .stream(produce, length: nil))
    }

    /// A streamed body of exactly `length` bytes, sent with `Content-Length` (to HTTP/1.0 clients
    /// too, so their connection can stay open), as a proxy relays an answer whose length its
    /// upstream stated; nil: unknown, as ``stream(_:)``. A producer that writes more, or returns
    /// having written less, fails the response: the connection is reset, so the client cannot
    /// take a short body as complete.
    public static func stream(length: Int?, _ produce: @escaping @Sendable (HTTPBodyWriter) async throws -> Void) -> HTTPResponseBody {
        HTTPResponseBody(storage: .stream(produce, length: length.map { max($0, 0) }))
    }

    /// Takes the connection out of HTTP once the head is sent: valid with status 101 (send the
    /// `Upgrade` and `Connection: Upgrade` headers yourself) or a 2xx answer to `CONNECT`. The
    /// server writes the head as given (no framing headers), then calls `takeOver` with the raw
    /// connection and any bytes the client sent past its request; the connection is closed when
    /// `takeOver` returns. A request body must have been read completely before switching.
    /// Server shutdown waits for these connections within its grace period, then closes them.
    public static func handOff(_ takeOver: @escaping @Sendable (HTTPUpgradedConnection) async -> Void) -> HTTPResponseBody {
        HTTPResponseBody(storage: .handOff(takeOver))
    }
}

extension HTTPResponse {
    /// `101 Switching Protocols` to `protocolName` (the `Upgrade` token, e.g. `websocket`), then
    /// the connection is handed to `takeOver` (see ``HTTPResponseBody/handOff(_:)``).
    public static func switchingProtocols(
        to protocolName: String, headers: HTTPHeaders = HTTPHeaders(),
        _ takeOver: @escaping @Sendable (HTTPUpgradedConnection) async -> Void
    ) -> HTTPResponse {
        var all = headers
        all.set(name: "Upgrade", value: protocolName)
        all.set(name: "Connection", value: "Upgrade")
        return HTTPResponse(status: 101, headers: all, body: .handOff(takeOver))
    }
}

/// Writes pieces of a streamed response body.
public struct HTTPBodyWriter: Sendable {
    let writePiece: @Sendable ([UInt8]) async throws -> Void

    /// Sends `bytes` as the next piece of the body. Empty pieces are ignored.
    public func write(_ bytes: [UInt8]) async throws {
        if bytes.isEmpty { return }
        try await writePiece(bytes)
    }

    /// Sends `text` as UTF-8.
    public func write(_ text: String) async throws {
        try await write(Array(text.utf8))
    }
}

// MARK: - Status phrases

/// Standard reason phrases.
public enum HTTPStatus {
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 103: "Early Hints"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}
