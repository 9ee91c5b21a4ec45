// MARK: - Requests with their whole body

/// A complete request as an ``HTTPHandler`` sees it: head plus the whole body, read for it by
/// ``HTTPStreamingRequest/collect(upTo:)``.
public struct HTTPRequest: HTTPRequestTarget, Sendable {
    /// The method token, e.g. `GET`.
    public var method: String
    /// The request target in origin form (`/path?query`): as sent, or the path and query of an
    /// absolute-form target, whose authority is then the `Host` field (``HTTPRequestTargetForm``).
    public var target: String
    public var version: HTTPVersion
    /// Header fields in the order received; lookups ignore case.
    public var headers: HTTPHeaders
    /// The body bytes (de-chunked when sent chunked).
    public var body: [UInt8]
    /// Trailer fields of a chunked body (empty otherwise).
    public var trailers: HTTPHeaders
    /// The peer's address, when known.
    public var remoteAddress: SocketAddress?

    public init(
        method: String, target: String, version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], trailers: HTTPHeaders = HTTPHeaders(),
        remoteAddress: SocketAddress? = nil
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.trailers = trailers
        self.remoteAddress = remoteAddress
    }

    /// The body as UTF-8 text.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}
