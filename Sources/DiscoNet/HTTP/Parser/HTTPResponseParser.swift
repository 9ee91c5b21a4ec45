// MARK: - Incremental response parser (for the client)

/// A parsed status line and header section.
public struct HTTPResponseHead: Sendable, Hashable {
    public var version: HTTPVersion
    public var status: Int
    public var reason: String
    public var headers: HTTPHeaders
}

/// What the response parser found, in order: interim (1xx) heads, the final head, body pieces,
/// then the end.
public enum HTTPResponseParserEvent: Sendable, Hashable {
    /// An interim (1xx) response other than a `101` (`103 Early Hints`, `100 Continue`…), found
    /// before the final one: it has no body, and the final head is still to come.
    case interim(HTTPResponseHead)
    case head(HTTPResponseHead)
    case body([UInt8])
    case end(trailers: HTTPHeaders)
}

/// A pure, incremental HTTP/1.1 response parser, the client-side twin of ``HTTPRequestParser``.
/// Interim 1xx responses are reported as they are parsed (``HTTPResponseParserEvent/interim(_:)``),
/// at most ``maxInterimResponses`` of them: a server that sends more (looping 1xx forever) is
/// refused. Bodies are sized, chunked, or delimited by the connection closing (call
/// ``finish()`` at end of stream). A `2xx` answer to `CONNECT` has no body, and
/// when protocol switches are allowed a `101` ends the message at its head: the bytes after it
/// belong to the new protocol and are not consumed.
public struct HTTPResponseParser: Sendable {
    private enum State: Sendable {
        case head(HTTPHeadScanner)
        case body(HTTPBodyDecoder)
        case done
        case failed(HTTPParseError)
    }

    public let limits: HTTPParserLimits
    /// Built once: the limits carry preformatted error messages.
    private let scannerLimits: HTTPHeadScanner.Limits
    private var state: State
    private let requestMethod: String
    private let allowsProtocolSwitch: Bool
    private let bodyLimitScope: HTTPBodyLimitScope
    /// Interim responses parsed so far.
    private var interimCount = 0

    /// Most interim (1xx) responses accepted before the final one; each is bounded by the same
    /// head limits as the final one.
    public static let maxInterimResponses = 16

    /// A parser for the response to one request sent with `requestMethod` (HEAD responses have no
    /// body). With `allowsProtocolSwitch` (the request asked for an `Upgrade`) a `101` is a final
    /// response; otherwise it is an error. `bodyLimitScope` says what `limits.maxBodyBytes`
    /// bounds: the whole body, or each chunk of a streamed one.
    public init(requestMethod: String, limits: HTTPParserLimits = HTTPParserLimits(), allowsProtocolSwitch: Bool = false,
                bodyLimitScope: HTTPBodyLimitScope = .wholeBody) {
        self.limits = limits
        self.bodyLimitScope = bodyLimitScope
        self.requestMethod = requestMethod
        self.allowsProtocolSwitch = allowsProtocolSwitch
        self.scannerLimits = Self.headLimits(limits)
        self.state = .head(HTTPHeadScanner(kind: .head, limits: scannerLimits))
    }

    /// True once the final response has ended.
    public var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// True when the body ends only when the server closes the connection.
    public private(set) var readsUntilClose = false

    /// Parses as much of `input` as possible; returns the count of bytes consumed.
    public mutating func parse(
        _ input: UnsafeBufferPointer<UInt8>,
        into events: inout [HTTPResponseParserEvent]
    ) throws(HTTPParseError) -> Int {
        do {
            return try parseUnchecked(input, into: &events)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// Reports end of stream: completes a read-until-close body, or fails a truncated response.
    public mutating func finish(into events: inout [HTTPResponseParserEvent]) throws(HTTPParseError) {
        switch state {
        case .done: return
        case .failed(let error): throw error
        case .head: state = .failed(.bad("connection closed before a complete response head"))
        case .body(let decoder):
            do {
                try decoder.finishAtEndOfStream()
                events.append(.end(trailers: HTTPHeaders()))
                state = .done
                return
            } catch {
                state = .failed(error)
            }
        }
        if case .failed(let error) = state { throw error }
    }

    private mutating func parseUnchecked(
        _ input: UnsafeBufferPointer<UInt8>,
        into events: inout [HTTPResponseParserEvent]
    ) throws(HTTPParseError) -> Int {
        var index = 0
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .done:
                return index
            case .head(var scanner):
                let rest = UnsafeBufferPointer(rebasing: input[index..<input.count])
                guard let length = try scanner.scan(rest) else {
                    state = .head(scanner)
                    return index
                }
                let head = try parseHead(rest, lines: scanner.lines)
                index += length
                if head.status == 101 && allowsProtocolSwitch {
                    events.append(.head(head))
                    events.append(.end(trailers: HTTPHeaders()))
                    state = .done
                    return index
                }
                if head.status >= 100 && head.status < 200 {
                    if head.status == 101 { throw .bad("unexpected 101 Switching Protocols; the request did not ask for an upgrade") }
                    guard interimCount < Self.maxInterimResponses else {
                        throw .bad("more than \(Self.maxInterimResponses) interim (1xx) responses before the final one; "
                            + "at most \(Self.maxInterimResponses) are accepted")
                    }
                    interimCount += 1
                    events.append(.interim(head))
                    state = .head(HTTPHeadScanner(kind: .head, limits: scannerLimits))
                    continue
                }
                events.append(.head(head))
                let framing = try bodyFraming(head)
                guard let framing else {
                    events.append(.end(trailers: HTTPHeaders()))
                    state = .done
                    return index
                }
                readsUntilClose = framing == .untilClose
                state = .body(HTTPBodyDecoder(framing: framing, limits: limits, scope: bodyLimitScope))
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
                    state = .done
                    return index
                }
            }
        }
    }

    private func bodyFraming(_ head: HTTPResponseHead) throws(HTTPParseError) -> HTTPBodyFraming? {
        if requestMethod == "HEAD" || head.status == 204 || head.status == 304 { return nil }
        if requestMethod == "CONNECT" && (200..<300).contains(head.status) { return nil }
        let length = try HTTPSyntax.contentLength(head.headers)
        if head.headers.contains("Transfer-Encoding") {
            if length != nil { throw .bad("response has both Content-Length and Transfer-Encoding") }
            return try HTTPSyntax.isChunked(head.headers) ? .chunked : .untilClose
        }
        if let length {
            if length > limits.maxBodyBytes {
                throw HTTPParseError(status: 413, reason: "response Content-Length \(length) exceeds the limit of \(limits.maxBodyBytes) bytes")
            }
            return length == 0 ? nil : .length(length)
        }
        return .untilClose
    }

    /// `HTTP-version SP 3DIGIT SP [reason-phrase]`.
    private func parseHead(_ buffer: UnsafeBufferPointer<UInt8>, lines: [Range<Int>]) throws(HTTPParseError) -> HTTPResponseHead {
        guard let line = lines.first, line.count >= 12 else { throw .bad("malformed status line; expected 'HTTP/1.1 200 OK'") }
        let version = try HTTPRequestHead.parseVersion(buffer, line.lowerBound..<(line.lowerBound + 8))
        guard buffer[line.lowerBound + 8] == HTTPSyntax.space else { throw .bad("malformed status line; expected 'HTTP/1.1 200 OK'") }
        var status = 0
        for offset in 9..<12 {
            let byte = buffer[line.lowerBound + offset]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .bad("status code is not three digits") }
            status = status * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard status >= 100 else { throw .bad("status code \(status) is below 100") }
        var reason = ""
        if line.count > 12 {
            guard buffer[line.lowerBound + 12] == HTTPSyntax.space else { throw .bad("missing space after status code") }
            let reasonRange = (line.lowerBound + 13)..<line.upperBound
            for position in reasonRange where !HTTPSyntax.isFieldValueChar(buffer[position]) {
                throw .bad("control character in reason phrase")
            }
            reason = HTTPSyntax.string(buffer, reasonRange)
        }
        var headers = HTTPHeaders()
        for field in lines.dropFirst() { headers.add(field: try HTTPSyntax.parseField(buffer, field)) }
        return HTTPResponseHead(version: version, status: status, reason: reason, headers: headers)
    }

    static func headLimits(_ limits: HTTPParserLimits) -> HTTPHeadScanner.Limits {
        HTTPHeadScanner.Limits(maxFirstLine: limits.maxRequestLineBytes, maxTotal: limits.maxHeaderBytes,
                               maxLines: limits.maxHeaderCount + 1, side: .response)
    }
}
