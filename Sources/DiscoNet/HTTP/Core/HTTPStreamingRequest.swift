// MARK: - Requests with a streamed body

/// A request as the server hands it to middleware and streaming handlers: the head at once, the
/// body as an ``HTTPRequestBody`` read on demand.
///
/// Handlers that want the whole body call ``collect(upTo:)`` (or are written as an
/// ``HTTPHandler`` behind ``HTTPResponder/collecting(upTo:_:)``, which does it for them).
public struct HTTPStreamingRequest: HTTPRequestTarget, Sendable {
    /// The method token, e.g. `GET`.
    public var method: String
    /// The request target in origin form (`/path?query`): as sent, or the path and query of an
    /// absolute-form target, whose authority is then the `Host` field (``HTTPRequestTargetForm``);
    /// `host:port` for CONNECT, `*` for a server-wide OPTIONS.
    public var target: String
    public var version: HTTPVersion
    /// Header fields in the order received; lookups ignore case.
    public var headers: HTTPHeaders
    /// The body, read on demand (de-chunked when sent chunked).
    public var body: HTTPRequestBody
    /// The peer's address, when known.
    public var remoteAddress: SocketAddress?
    /// The server connection it came from, for ``clientHasLeft()``; nil for a request built in code.
    var client: HTTPServerClientProbe?

    public init(
        method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = HTTPHeaders(),
        body: HTTPRequestBody = .empty, remoteAddress: SocketAddress? = nil
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// Whether the client that sent this request has gone (its connection closed, or the
    /// exchange ended: a FIN the server takes as a half-close leaves a client that waits for its
    /// answer), so that an answer would reach no one; false for a request built in code. For work
    /// that waits before it acts, such as a rate-limit delay.
    public func clientHasLeft() async -> Bool { await client?.clientHasLeft() ?? false }

    /// The request with its whole body when the body is already whole (a request without one,
    /// or one built in code) and within `limit`; nil when it must be read (or is too large).
    func wholeRequest(upTo limit: Int) -> HTTPRequest? {
        guard case .bytes(let bytes) = body.storage, bytes.count <= limit else { return nil }
        return HTTPRequest(method: method, target: target, version: version, headers: headers, body: bytes,
                           remoteAddress: remoteAddress)
    }

    /// Reads the whole body (at most `limit` bytes; more is an ``HTTPParseError`` with status 413)
    /// and returns the request as whole-body handlers see it, trailers included.
    public func collect(upTo limit: Int) async throws -> HTTPRequest {
        let bytes = try await body.collect(upTo: limit)
        return HTTPRequest(method: method, target: target, version: version, headers: headers, body: bytes,
                           trailers: await body.trailers, remoteAddress: remoteAddress)
    }
}
