// MARK: - Finding the end of a header section

/// Scans for the lines of a header section (start line plus fields, or a trailer section) without
/// consuming anything until the section is complete. Resumable: the caller presents the same
/// unconsumed bytes again with more appended, and scanning continues where it stopped.
///
/// Every check is a function of the bytes before the current position, so the outcome does not
/// depend on how the input was split.
struct HTTPHeadScanner: Sendable {
    /// Whether the section starts with a request/status line (empty lines before it are skipped)
    /// or is a trailer section (an empty first line ends it).
    enum Kind: Sendable { case head, trailers }

    struct Limits: Sendable {
        var maxFirstLine: Int
        var maxTotal: Int
        var maxLines: Int
        /// Whose section it is: the errors are worded (and made, only when thrown) for it.
        var side: Side
        /// The field count the limit allows (`maxLines` counts the first line too).
        var maxFields: Int { maxLines - 1 }

        enum Side: Sendable { case request, response, trailers }

        var firstLineError: HTTPParseError {
            switch side {
            case .request: HTTPParseError(status: 414, reason: "request line longer than \(maxFirstLine) bytes")
            case .response: HTTPParseError(status: 502, reason: "status line longer than \(maxFirstLine) bytes")
            case .trailers: totalError
            }
        }

        var totalError: HTTPParseError {
            switch side {
            case .request:
                HTTPParseError(status: 431, reason: "header section larger than \(maxTotal) bytes or more than \(maxFields) fields")
            case .response: HTTPParseError(status: 502, reason: "response header section larger than \(maxTotal) bytes")
            case .trailers: HTTPParseError(status: 431, reason: "trailer section larger than \(maxTotal) bytes")
            }
        }

        /// The error for a section with more lines than `maxLines`: it names the field limit
        /// (a response or trailer section of a few short fields is not "larger than" its bytes).
        var fieldCountError: HTTPParseError {
            switch side {
            case .request: totalError
            case .response: HTTPParseError(status: 502, reason: "response header section has more than \(maxFields) fields")
            // A trailer section has no start line: every line is a field.
            case .trailers: HTTPParseError(status: 431, reason: "trailer section has more than \(maxLines) fields")
            }
        }
    }

    let kind: Kind
    let limits: Limits
    private(set) var lines: [Range<Int>] = []
    private var scan = 0
    private var lineStart = 0

    init(kind: Kind, limits: Limits) {
        self.kind = kind
        self.limits = limits
    }

    /// Nothing of a section scanned yet.
    var isUntouched: Bool { scan == 0 && lines.isEmpty }

    /// Ready for the next section, keeping the line list's storage.
    mutating func reset() {
        lines.removeAll(keepingCapacity: true)
        scan = 0
        lineStart = 0
    }

    /// Scans `buffer` (which starts at the section's first byte). Returns the number of bytes the
    /// section occupies, through its final CRLF, once complete; nil if more bytes are needed.
    mutating func scan(_ buffer: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Int? {
        let count = buffer.count
        while scan < count {
            let byte = buffer[scan]
            if byte == HTTPSyntax.lf {
                guard scan > lineStart, buffer[scan - 1] == HTTPSyntax.cr else {
                    throw .bad("bare LF at byte \(scan); lines must end with CRLF")
                }
                let line = lineStart..<(scan - 1)
                scan += 1
                lineStart = scan
                if line.isEmpty {
                    if lines.isEmpty && kind == .head { continue }
                    return scan
                }
                // Room for a typical head at once rather than growing through 1, 2, 4 lines.
                if lines.capacity == 0 { lines.reserveCapacity(16) }
                lines.append(line)
                if lines.count > limits.maxLines { throw limits.fieldCountError }
                continue
            }
            if byte == HTTPSyntax.cr {
                guard scan + 1 < count else { return nil }
                guard buffer[scan + 1] == HTTPSyntax.lf else {
                    throw .bad("bare CR at byte \(scan); lines must end with CRLF")
                }
                scan += 1
                continue
            }
            if lines.isEmpty && kind == .head && scan - lineStart >= limits.maxFirstLine {
                throw limits.firstLineError
            }
            if scan >= limits.maxTotal { throw limits.totalError }
            scan += 1
        }
        return nil
    }
}
