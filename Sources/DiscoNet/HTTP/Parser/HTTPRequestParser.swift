// MARK: - Incremental request parser

/// What the request parser found, in order: a head, zero or more body pieces, then the end.
public enum HTTPRequestParserEvent: Sendable, Hashable {
    case head(HTTPRequestHead)
    case body([UInt8])
    case end(trailers: HTTPHeaders)
}

/// A pure, incremental HTTP/1.1 request parser: feed bytes, get events.
///
/// Call ``parse(_:into:)`` with every byte not consumed so far, followed by new bytes. It consumes
/// whole units only (a complete head, available body bytes, a complete chunk line), returns how
/// many bytes it consumed, and stops after each request's `.end` so the caller can answer
/// pipelined requests one at a time. After an error it stays failed: the connection must close.
public struct HTTPRequestParser: Sendable {
    private enum State: Sendable {
        /// Scanning a head (with ``scanner``).
        case head
        case body(HTTPBodyDecoder)
        case failed(HTTPParseError)
    }

    public let limits: HTTPParserLimits
    private var state: State
    /// The head scanner, kept across requests (reset in place: its line list keeps its storage).
    private var scanner: HTTPHeadScanner

    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
        self.state = .head
        // Built once: the limits carry preformatted error messages.
        self.scanner = HTTPHeadScanner(kind: .head, limits: Self.headLimits(limits))
    }

    /// True between requests: no part of a next request has been consumed.
    public var isAtMessageBoundary: Bool {
        if case .head = state { return true }
        return false
    }

    /// True between requests when no byte of the next head has been scanned yet either (a head
    /// recognised elsewhere may then be consumed without telling the parser).
    public var isAtHeadStart: Bool {
        if case .head = state { return scanner.isUntouched }
        return false
    }

    /// Parses as much of `input` as possible, appending events. Returns the count of bytes
    /// consumed (never more than `input.count`); the rest must be presented again.
    public mutating func parse(
        _ input: UnsafeBufferPointer<UInt8>,
        into events: inout [HTTPRequestParserEvent]
    ) throws(HTTPParseError) -> Int {
        do {
            return try parseUnchecked(input, into: &events)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func parseUnchecked(
        _ input: UnsafeBufferPointer<UInt8>,
        into events: inout [HTTPRequestParserEvent]
    ) throws(HTTPParseError) -> Int {
        var index = 0
        while true {
            switch state {
            case .failed(let error):
                throw error

            case .head:
                guard let length = try scanner.scan(input) else { return index }
                let head = try HTTPRequestHead.parse(input, lines: scanner.lines, limits: limits)
                scanner.reset()
                index = length
                let isChunked = head.isChunked
                let contentLength = head.contentLength
                events.append(.head(head))
                if isChunked {
                    state = .body(HTTPBodyDecoder(framing: .chunked, limits: limits))
                } else if let length = contentLength, length > 0 {
                    state = .body(HTTPBodyDecoder(framing: .length(length), limits: limits))
                } else {
                    events.append(.end(trailers: HTTPHeaders()))
                    resetForNextMessage()
                    return index
                }

            case .body(var decoder):
                let (next, outcome) = try decoder.decode(input, from: index) { piece in
                    events.append(.body(Array(piece)))
                }
                index = next
                switch outcome {
                case .needMore:
                    state = .body(decoder)
                    return index
                case .finished(let trailers):
                    events.append(.end(trailers: trailers))
                    resetForNextMessage()
                    return index
                }
            }
        }
    }

    private mutating func resetForNextMessage() {
        state = .head
    }

    static func headLimits(_ limits: HTTPParserLimits) -> HTTPHeadScanner.Limits {
        HTTPHeadScanner.Limits(maxFirstLine: limits.maxRequestLineBytes, maxTotal: limits.maxHeaderBytes,
                               maxLines: limits.maxHeaderCount + 1, side: .request)
    }
}
