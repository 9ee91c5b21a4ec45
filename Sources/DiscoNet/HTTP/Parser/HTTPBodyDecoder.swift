// MARK: - Message body framing (RFC 9112 §6, §7.1)

/// How a message body is delimited.
enum HTTPBodyFraming: Sendable, Equatable {
    case length(Int)
    case chunked
    case untilClose
}

/// What ``HTTPParserLimits/maxBodyBytes`` bounds in a response body.
public enum HTTPBodyLimitScope: Sendable, Hashable {
    /// The whole body: a response read whole into memory.
    case wholeBody
    /// Each chunk of a chunked body (the most a reader has to buffer to take one message),
    /// not their sum: a streamed response (a watch) may carry any number of bytes over its
    /// lifetime. A read-until-close body is then unbounded (it arrives read by read); a
    /// `Content-Length` body is still bounded as a whole.
    case eachChunk
}

/// Decodes one body: sized, chunked (with bounded trailers) or read-until-close.
/// Consumes whole units only (a complete chunk-size line, available data bytes, a complete CRLF),
/// so leftover bytes can be presented again with more appended.
struct HTTPBodyDecoder: Sendable {
    private enum State: Sendable {
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(HTTPHeadScanner)
        case untilClose
    }

    private var state: State
    private var decodedBytes = 0
    private let limits: HTTPParserLimits
    /// False when the limit bounds each chunk (``HTTPBodyLimitScope/eachChunk``).
    private let boundsWholeBody: Bool

    init(framing: HTTPBodyFraming, limits: HTTPParserLimits, scope: HTTPBodyLimitScope = .wholeBody) {
        self.limits = limits
        boundsWholeBody = scope == .wholeBody
        switch framing {
        case .length(let length): state = .fixed(remaining: length)
        case .chunked: state = .chunkSize
        case .untilClose: state = .untilClose
        }
    }

    enum Outcome {
        case needMore
        case finished(trailers: HTTPHeaders)
    }

    /// Decodes from `buffer[start...]`, handing body bytes to `onData`. Returns the index of the
    /// first unconsumed byte and whether the body is complete.
    mutating func decode(
        _ buffer: UnsafeBufferPointer<UInt8>,
        from start: Int,
        onData: (UnsafeBufferPointer<UInt8>) -> Void
    ) throws(HTTPParseError) -> (next: Int, outcome: Outcome) {
        var index = start
        while true {
            switch state {
            case .fixed(let remaining):
                if remaining == 0 { return (index, .finished(trailers: HTTPHeaders())) }
                let take = min(remaining, buffer.count - index)
                if take == 0 { return (index, .needMore) }
                onData(UnsafeBufferPointer(rebasing: buffer[index..<(index + take)]))
                index += take
                state = .fixed(remaining: remaining - take)

            case .untilClose:
                // Bytes within the limit are handed on before the error, so what is handed on
                // does not depend on how the input was split.
                var take = buffer.count - index
                let overLimit = boundsWholeBody && take > limits.maxBodyBytes - decodedBytes
                if overLimit { take = limits.maxBodyBytes - decodedBytes }
                if take > 0 {
                    if boundsWholeBody { decodedBytes += take }
                    onData(UnsafeBufferPointer(rebasing: buffer[index..<(index + take)]))
                }
                if overLimit { throw tooLarge() }
                return (buffer.count, .needMore)

            case .chunkSize:
                guard let (size, next) = try parseChunkSizeLine(buffer, from: index) else { return (index, .needMore) }
                index = next
                if size == 0 {
                    state = .trailers(HTTPHeadScanner(kind: .trailers, limits: trailerLimits))
                } else {
                    state = .chunkData(remaining: size)
                }

            case .chunkData(let remaining):
                let take = min(remaining, buffer.count - index)
                if take == 0 { return (index, .needMore) }
                onData(UnsafeBufferPointer(rebasing: buffer[index..<(index + take)]))
                index += take
                state = remaining == take ? .chunkDataEnd : .chunkData(remaining: remaining - take)

            case .chunkDataEnd:
                if buffer.count - index < 2 {
                    if index < buffer.count, buffer[index] != HTTPSyntax.cr { throw missingCRLF() }
                    return (index, .needMore)
                }
                guard buffer[index] == HTTPSyntax.cr, buffer[index + 1] == HTTPSyntax.lf else { throw missingCRLF() }
                index += 2
                state = .chunkSize

            case .trailers(var scanner):
                let rest = UnsafeBufferPointer(rebasing: buffer[index..<buffer.count])
                guard let length = try scanner.scan(rest) else {
                    state = .trailers(scanner)
                    return (index, .needMore)
                }
                var trailers = HTTPHeaders()
                for line in scanner.lines {
                    trailers.add(field: try HTTPSyntax.parseField(rest, line))
                }
                return (index + length, .finished(trailers: trailers))
            }
        }
    }

    /// Called at end of stream: a read-until-close body ends here; any other body is truncated.
    func finishAtEndOfStream() throws(HTTPParseError) {
        if case .untilClose = state { return }
        throw .bad("connection closed in the middle of the body")
    }

    // MARK: Chunk-size lines

    private var trailerLimits: HTTPHeadScanner.Limits {
        .init(maxFirstLine: limits.maxTrailerBytes, maxTotal: limits.maxTrailerBytes, maxLines: limits.maxHeaderCount, side: .trailers)
    }

    private func tooLarge() -> HTTPParseError {
        guard boundsWholeBody else {
            return HTTPParseError(status: 413, reason: "chunk larger than the limit of \(limits.maxBodyBytes) bytes")
        }
        return HTTPParseError(status: 413, reason: "body larger than the limit of \(limits.maxBodyBytes) bytes")
    }

    private func missingCRLF() -> HTTPParseError {
        .bad("chunk data not followed by CRLF; the chunk is longer than its declared size")
    }

    /// Parses `1*HEXDIG [ BWS ";" chunk-ext ] CRLF`. Returns nil until the whole line is present.
    /// Checks run byte by byte in order, so the verdict never depends on how input was split.
    private mutating func parseChunkSizeLine(
        _ buffer: UnsafeBufferPointer<UInt8>, from start: Int
    ) throws(HTTPParseError) -> (Int, Int)? {
        enum Phase { case digits, afterDigits, extensions }
        var phase = Phase.digits
        var index = start
        var size: UInt64 = 0
        var digits = 0
        while true {
            if index - start > limits.maxChunkLineBytes {
                throw .bad("chunk-size line longer than \(limits.maxChunkLineBytes) bytes")
            }
            guard index < buffer.count else { return nil }
            let byte = buffer[index]
            if byte == HTTPSyntax.cr {
                guard digits > 0 else { throw .bad("invalid chunk size: expected hexadecimal digits before CRLF") }
                guard index + 1 < buffer.count else { return nil }
                guard buffer[index + 1] == HTTPSyntax.lf else { throw .bad("bare CR in chunk-size line") }
                let total = decodedBytes.addingReportingOverflow(Int(clamping: size))
                if size > UInt64(Int.max) || total.overflow || total.partialValue > limits.maxBodyBytes {
                    throw tooLarge()
                }
                // Bounding each chunk, the count stays 0: every chunk is checked on its own.
                if boundsWholeBody { decodedBytes = total.partialValue }
                return (Int(size), index + 2)
            }
            if byte == HTTPSyntax.lf { throw .bad("bare LF in chunk-size line; lines must end with CRLF") }
            switch phase {
            case .digits:
                if let digit = hexValue(byte) {
                    let (shifted, overflow) = size.multipliedReportingOverflow(by: 16)
                    if overflow { throw .bad("chunk size overflows 64 bits") }
                    size = shifted | UInt64(digit)
                    digits += 1
                    index += 1
                    continue
                }
                guard digits > 0 else {
                    throw .bad("invalid chunk size: expected hexadecimal digits, found byte 0x\(HTTPSyntax.hex(byte))")
                }
                phase = .afterDigits
                continue
            case .afterDigits:
                if byte == UInt8(ascii: ";") {
                    phase = .extensions
                } else if !HTTPSyntax.isWhitespace(byte) {
                    throw .bad("invalid chunk size: unexpected byte 0x\(HTTPSyntax.hex(byte)) after the size")
                }
            case .extensions:
                if !HTTPSyntax.isFieldValueChar(byte) {
                    throw .bad("control character 0x\(HTTPSyntax.hex(byte)) in chunk extension")
                }
            }
            index += 1
        }
    }

    private func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension HTTPHeaders {
    mutating func add(field: HTTPField) { add(name: field.name, value: field.value) }
}
