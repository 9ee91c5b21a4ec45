import DiscoCore

// MARK: - Server settings

/// Settings for an ``HTTPServer``. Every limit maps to a status code: see ``HTTPParserLimits``.
public struct HTTPServerConfiguration: Sendable {
    /// Host to bind: a numeric address (`127.0.0.1`, `::1`, `0.0.0.0`) or a name resolved with getaddrinfo.
    public var host: String
    /// Port to bind; 0 lets the kernel choose (read it back from ``HTTPServer/localAddress``).
    public var port: UInt16
    public var backlog: Int32
    /// Parser limits: request line (414), header section (431), body (413). `maxBodyBytes` caps
    /// every body, streamed or not; whole-body handlers collect up to it.
    public var limits: HTTPParserLimits
    /// Time allowed to receive a complete request head, from its first byte (or from accept for
    /// the first request). On expiry: `408` and close, which defeats slowloris clients.
    public var headerReadTimeout: Duration
    /// How long an idle keep-alive connection (or a stalled body upload, or a client that takes
    /// none of a response being sent) may wait; then it is closed. The idle wait starts once the
    /// last response has been sent, so a slow client that keeps reading is never cut off.
    public var idleTimeout: Duration
    /// Most open connections, those handed off after a protocol switch (a spliced WebSocket)
    /// included; connections beyond it get `503` and are closed.
    public var maxConnections: Int
    /// Unconsumed pipelined bytes buffered while a handler runs before reading pauses.
    public var maxPipelineBuffer: Int
    /// Request body bytes read ahead of the handler; beyond it the server stops reading the
    /// connection until the handler takes what is buffered (back-pressure).
    public var requestBodyBuffer: Int
    /// When `Expect: 100-continue` is answered.
    public var continuePolicy: ContinuePolicy
    /// What runs over each accepted TCP connection (plain TCP by default; TLS plugs in here).
    public var transport: any ByteStreamTransportFactory
    /// Where the server reports trouble it handles itself (running out of descriptors); nil
    /// keeps it quiet.
    public var logger: Logger?
    /// Answers requests without a body on the connection's loop before the middleware and the
    /// responder see them (see ``HTTPInlineHandler``); nil: every request takes the responder.
    public var inlineHandler: (any HTTPInlineHandler)?
    /// Whether a client whose end of the connection closes (a TCP FIN) while its request is
    /// being answered has left (true, the default, as nginx's `proxy_ignore_client_abort off`):
    /// the connection closes, the handler task is cancelled and no answer is sent. A FIN cannot
    /// tell a closed socket from a half-close (`shutdown(SHUT_WR)`), so a client that half-closes
    /// after one request and waits for the answer gets none; one that pipelines gets every
    /// answer either way. False: only a reset or a failed read or write ends a request early,
    /// and a half-closing client is answered. A reset always abandons the request.
    public var abandonsRequestsOfClosedClients = true
    /// How the server's own refusals carry their reason: those of requests it cannot read
    /// (400, 408, 413, 414, 431), of connections beyond ``maxConnections`` or without a file
    /// descriptor (503), and the answer to an error the responder throws (its ``HTTPParseError``'s
    /// status, else 500). Plain text by default; `.json` for a JSON API, whose clients then read
    /// every error the same way.
    public var errorFormat: HTTPErrorFormat = .plainText
    /// Told of each answer the server makes itself where no handler saw a request: a request
    /// it cannot read (400, 408, 413, 414, 417, 431) before its handler began, and a connection
    /// refused at accept (503). Not told of a request whose handler began (the handler sees the
    /// failure on its body) nor of a connection closed without an answer. Called on the
    /// connection's loop (or the listener's), so it must be quick and never wait; nil: no one
    /// is told.
    public var onRefusal: (@Sendable (HTTPServerRefusal) -> Void)?

    public init(
        host: String = "127.0.0.1",
        port: UInt16 = 0,
        backlog: Int32 = 1024,
        limits: HTTPParserLimits = HTTPParserLimits(),
        headerReadTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60),
        maxConnections: Int = 10_000,
        maxPipelineBuffer: Int = 64 * 1024,
        requestBodyBuffer: Int = 64 * 1024,
        continuePolicy: ContinuePolicy = .whenBodyIsRead,
        transport: any ByteStreamTransportFactory = PlainTransportFactory(),
        logger: Logger? = nil
    ) {
        self.host = host
        self.port = port
        self.backlog = backlog
        self.limits = limits
        self.headerReadTimeout = headerReadTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxPipelineBuffer = maxPipelineBuffer
        self.requestBodyBuffer = requestBodyBuffer
        self.continuePolicy = continuePolicy
        self.transport = transport
        self.logger = logger
    }

    /// When the server sends `100 Continue` to a client that asked for it.
    public struct ContinuePolicy: Sendable, Hashable, CustomStringConvertible {
        enum Kind: Sendable, Hashable { case whenBodyIsRead, immediately }
        let kind: Kind

        /// When the handler first reads the body; a handler that answers without reading it
        /// (a refusal) never makes the client send it.
        public static let whenBodyIsRead = ContinuePolicy(kind: .whenBodyIsRead)
        /// As soon as the head is accepted, before the handler runs.
        public static let immediately = ContinuePolicy(kind: .immediately)

        public var description: String { kind == .immediately ? "immediately" : "when the body is read" }
    }
}

// MARK: - The server's own error answers

/// An answer the server made itself, without a handler (``HTTPServerConfiguration/onRefusal``).
public struct HTTPServerRefusal: Sendable, Hashable {
    /// The status the client was sent.
    public var status: Int
    /// The request's method when its head was read (a refused expectation), else nil: a
    /// request line that could not be read, a head that never completed, a refused connection.
    public var method: String?

    public init(status: Int, method: String? = nil) {
        self.status = status
        self.method = method
    }
}

/// The body of the answers the server makes itself (``HTTPServerConfiguration/errorFormat``).
public enum HTTPErrorFormat: Sendable, Hashable {
    /// `text/plain; charset=utf-8`: the reason and a line feed.
    case plainText
    /// `application/json`: `{"error": reason}` and a line feed.
    case json

    /// The content type and body of an answer giving `reason`.
    func body(_ reason: String) -> (contentType: String, bytes: [UInt8]) {
        switch self {
        case .plainText:
            return ("text/plain; charset=utf-8", Array(reason.utf8) + [HTTPSyntax.lf])
        case .json:
            let object = JSONValue.object(JSONObject([.init(key: "error", value: .string(reason))]))
            return ("application/json", object.encodedBytes() + [HTTPSyntax.lf])
        }
    }
}
