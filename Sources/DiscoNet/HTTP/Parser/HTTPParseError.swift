// MARK: - Parse errors

/// Why an HTTP message could not be read, with the status a server answers it with.
///
/// `reason` says what was wrong and, where it helps, what would be right; servers send it as the
/// body of the error response.
public struct HTTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The response status for this error (400, 413, 414, 431, 501 or 505).
    public let status: Int
    /// A short human-readable explanation.
    public let reason: String

    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    public var description: String { "\(status): \(reason)" }

    static func bad(_ reason: String) -> HTTPParseError { HTTPParseError(status: 400, reason: reason) }
}

// MARK: - Limits

/// Size limits the parsers enforce, each mapped to its status code.
public struct HTTPParserLimits: Sendable, Hashable {
    /// Longest request line (or status line) in bytes; longer gets 414.
    public var maxRequestLineBytes: Int
    /// Largest header section (start line and fields) in bytes; larger gets 431.
    public var maxHeaderBytes: Int
    /// Most header fields; more gets 431.
    public var maxHeaderCount: Int
    /// Largest body in bytes (declared or decoded); larger gets 413.
    public var maxBodyBytes: Int
    /// Largest chunked trailer section in bytes; larger gets 431.
    public var maxTrailerBytes: Int
    /// Longest chunk-size line (with extensions) in bytes; longer gets 400.
    public var maxChunkLineBytes: Int

    public init(
        maxRequestLineBytes: Int = 8 * 1024,
        maxHeaderBytes: Int = 16 * 1024,
        maxHeaderCount: Int = 100,
        maxBodyBytes: Int = 8 * 1024 * 1024,
        maxTrailerBytes: Int = 4 * 1024,
        maxChunkLineBytes: Int = 1024
    ) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
        self.maxTrailerBytes = maxTrailerBytes
        self.maxChunkLineBytes = maxChunkLineBytes
    }
}
