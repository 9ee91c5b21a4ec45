// MARK: - Server settings

/// Settings for an ``HTTPServer``. Every limit maps to a status code: see ``HTTPParserLimits``.
public struct HTTPServerConfiguration: Sendable {
    /// Host to bind: a numeric address (`127.0.0.1`, `::1`, `0.0.0.0`) or a name resolved with getaddrinfo.
    public var host: String
    /// Port to bind; 0 lets the kernel choose (read it back from ``HTTPServer/localAddress``).
    public var port: UInt16
    public var backlog: Int32
    /// Parser limits: request line (414), header section (431), body (413).
    public var limits: HTTPParserLimits
    /// Time allowed to receive a complete request head, from its first byte (or from accept for
    /// the first request). On expiry: `408` and close, which defeats slowloris clients.
    public var headerReadTimeout: Duration
    /// How long an idle keep-alive connection (or a stalled body upload) may wait; then it is closed.
    public var idleTimeout: Duration
    /// Most open connections; connections beyond it get `503` and are closed.
    public var maxConnections: Int
    /// Unconsumed pipelined bytes buffered while a handler runs before reading pauses.
    public var maxPipelineBuffer: Int

    public init(
        host: String = "127.0.0.1",
        port: UInt16 = 0,
        backlog: Int32 = 1024,
        limits: HTTPParserLimits = HTTPParserLimits(),
        headerReadTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60),
        maxConnections: Int = 10_000,
        maxPipelineBuffer: Int = 64 * 1024
    ) {
        self.host = host
        self.port = port
        self.backlog = backlog
        self.limits = limits
        self.headerReadTimeout = headerReadTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.maxPipelineBuffer = maxPipelineBuffer
    }
}
