// MARK: - Interim (1xx) responses

/// An interim (1xx) response: a status, its reason phrase and fields, no body. A server sends
/// it before the final response to the same request (`103 Early Hints` lets a browser preload
/// what the final answer will need while the server is still computing it); a client reads it
/// through ``HTTPClientRequest/onInterim`` and a handler sends one through an
/// ``HTTPInterimSender``.
public struct HTTPInterimResponse: Sendable, Hashable {
    public var status: Int
    /// The reason phrase; defaults to the standard one for `status`.
    public var reason: String
    public var headers: HTTPHeaders

    public init(status: Int, reason: String? = nil, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.reason = reason ?? HTTPStatus.reasonPhrase(status)
        self.headers = headers
    }

    /// The interim response a parsed head describes.
    init(_ head: HTTPResponseHead) {
        self.init(status: head.status, reason: head.reason, headers: head.headers)
    }

    /// Whether a handler may send a response with `status` as an interim one: 1xx, but not
    /// `100 Continue` (the server answers `Expect: 100-continue` itself) nor `101 Switching
    /// Protocols` (a hand-off, which is a final response).
    public static func isSendable(status: Int) -> Bool {
        status >= 102 && status <= 199
    }
}
