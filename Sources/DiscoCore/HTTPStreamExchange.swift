// MARK: - HTTPStreamExchanging

/// A response whose body is read piece by piece as the server writes it (etcd's watch and
/// keep-alive streams, newline-delimited JSON).
public struct HTTPStreamedExchangeResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    /// The next piece of the body (never empty), or nil at its end. Read by one task at a time.
    public let next: @Sendable () async throws -> [UInt8]?
    /// Stops reading: the connection is closed. Safe to call more than once and after the end.
    public let close: @Sendable () -> Void

    public init(status: Int, headers: [(name: String, value: String)],
                next: @escaping @Sendable () async throws -> [UInt8]?, close: @escaping @Sendable () -> Void) {
        self.status = status
        self.headers = headers
        self.next = next
        self.close = close
    }
}

/// A transport that can also stream response bodies. DiscoNet's client conforms; a discovery
/// backend that needs long-lived streams (etcd's watch) asks its transport for this.
public protocol HTTPStreamExchanging: HTTPExchanging {
    /// Sends `request` and returns once the response head has arrived (within `timeout`); the
    /// body is then read without a deadline until the caller closes it or the server ends it.
    func openStream(_ request: HTTPExchangeRequest, timeout: Duration) async throws -> HTTPStreamedExchangeResponse
}

// MARK: - Newline-delimited JSON

/// Splits a byte stream into lines, keeping an incomplete last line until its end arrives.
public struct LineSplitter: Sendable {
    private var pending: [UInt8] = []
    /// A line longer than this is an error (a broken or hostile stream), not an allocation.
    public let maxLineLength: Int

    public init(maxLineLength: Int = 64 << 20) { self.maxLineLength = maxLineLength }

    /// Adds a piece and returns the complete lines it finished (without their `\n`, and without
    /// a `\r` before it); empty lines are skipped. Returns nil when a line grows past the limit.
    public mutating func feed(_ piece: [UInt8]) -> [[UInt8]]? {
        var lines: [[UInt8]] = []
        var start = piece.startIndex
        for index in piece.indices where piece[index] == UInt8(ascii: "\n") {
            pending.append(contentsOf: piece[start..<index])
            if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
            if !pending.isEmpty { lines.append(pending) }
            pending = []
            start = index + 1
        }
        pending.append(contentsOf: piece[start...])
        return pending.count > maxLineLength ? nil : lines
    }

    /// What is left after the stream's end (a last line without `\n`), if anything.
    public mutating func finish() -> [UInt8]? {
        defer { pending = [] }
        return pending.isEmpty ? nil : pending
    }
}
