#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: - A response relayed whole, in bytes

/// An upstream response that arrived whole in one read and is simple enough to relay without
/// the general parser: HTTP/1.1, a final status with a body (not 1xx, 204 or 304), one
/// `Content-Length` and exactly that many body bytes, no `Transfer-Encoding`, and `Connection`
/// absent or `keep-alive` (the upstream connection is reused). Its fields are kept as
/// `Name: value` lines (values trimmed, as the parser trims them) minus those a
/// ``HTTPRelayFilter`` drops; `Content-Length` and `Connection` are never among them (the
/// server frames the body and decides the connection itself).
public struct HTTPRelayedResponse: Sendable {
    public let status: Int
    public let reason: String
    /// The kept fields: lines of ``bytes`` as they came (``fieldRuns``) when each is already
    /// `Name: value\r\n`, or these bytes when some had to be rewritten (or were too scattered).
    let rewrittenFields: [UInt8]?
    let fieldRuns: FieldRuns
    /// The response as read: the kept field lines and the body are parts of it.
    let bytes: [UInt8]
    public let body: ArraySlice<UInt8>

    /// The kept fields, each `Name: value\r\n`.
    public var encodedFields: [UInt8] {
        var out: [UInt8] = []
        appendFields(to: &out)
        return out
    }

    /// Bytes ``appendFields(to:)`` appends.
    var fieldsCount: Int { rewrittenFields?.count ?? fieldRuns.byteCount }

    /// Appends the kept fields to `out` (from the response's own bytes, without a copy of
    /// their own).
    func appendFields(to out: inout [UInt8]) {
        if let rewrittenFields {
            out.append(contentsOf: rewrittenFields)
            return
        }
        bytes.withUnsafeBufferPointer { buffer in
            fieldRuns.forEach { out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[$0])) }
        }
    }

    /// Up to four runs of consecutive kept lines (dropped fields between them), stored inline.
    struct FieldRuns: Sendable {
        private var runs: (Range<Int>, Range<Int>, Range<Int>, Range<Int>) = (0..<0, 0..<0, 0..<0, 0..<0)
        private(set) var count = 0
        static let capacity = 4

        var byteCount: Int {
            var total = 0
            forEach { total += $0.count }
            return total
        }

        /// Adds the line at `line`: it extends the last run when it follows it. False when a
        /// fifth run would be needed.
        mutating func add(_ line: Range<Int>) -> Bool {
            if count > 0, self[count - 1].upperBound == line.lowerBound {
                self[count - 1] = self[count - 1].lowerBound..<line.upperBound
                return true
            }
            guard count < Self.capacity else { return false }
            count += 1
            self[count - 1] = line
            return true
        }

        func forEach(_ body: (Range<Int>) -> Void) {
            for index in 0..<count { body(self[index]) }
        }

        private subscript(index: Int) -> Range<Int> {
            get {
                switch index {
                case 0: runs.0
                case 1: runs.1
                case 2: runs.2
                default: runs.3
                }
            }
            set {
                switch index {
                case 0: runs.0 = newValue
                case 1: runs.1 = newValue
                case 2: runs.2 = newValue
                default: runs.3 = newValue
                }
            }
        }
    }
}

/// Which upstream response fields a relay keeps, asked with each field's name bytes.
public struct HTTPRelayFilter: Sendable {
    let keeps: @Sendable (UnsafeBufferPointer<UInt8>) -> Bool
    /// Responses with a larger body take the general path.
    let maxBody: Int

    public init(maxBody: Int, keeps: @escaping @Sendable (_ name: UnsafeBufferPointer<UInt8>) -> Bool) {
        self.keeps = keeps
        self.maxBody = maxBody
    }
}

// MARK: - Recognising one

extension HTTPRelayedResponse {
    /// The relayed form of `bytes` when they are exactly one simple response (see the type);
    /// nil for anything else, which then takes the general parser from the same bytes. Every
    /// check is at least as strict as the parser's, so nothing the parser refuses is relayed.
    static func recognise(_ bytes: [UInt8], limits: HTTPParserLimits, filter: HTTPRelayFilter) -> HTTPRelayedResponse? {
        bytes.withUnsafeBufferPointer { buffer in recognise(buffer, in: bytes, limits: limits, filter: filter) }
    }

    private static func recognise(_ buffer: UnsafeBufferPointer<UInt8>, in bytes: [UInt8], limits: HTTPParserLimits,
                                  filter: HTTPRelayFilter) -> HTTPRelayedResponse? {
        let count = buffer.count
        // Status line: `HTTP/1.1 SSS reason` (the reason may be empty, then without its space).
        guard count >= 14, let statusEnd = lineEnd(buffer, from: 0), statusEnd >= 12, statusEnd < limits.maxRequestLineBytes else { return nil }
        let prefix: StaticString = "HTTP/1.1 "
        let matchesPrefix = prefix.withUTF8Buffer { expected in (0..<9).allSatisfy { buffer[$0] == expected[$0] } }
        guard matchesPrefix else { return nil }
        var status = 0
        for offset in 9..<12 {
            let byte = buffer[offset]
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            status = status * 10 + Int(byte - 0x30)
        }
        guard status >= 200, status <= 599, status != 204, status != 304 else { return nil }
        var reason = ""
        if statusEnd > 12 {
            guard buffer[12] == HTTPSyntax.space else { return nil }
            // A tab is valid in a reason but the server's encoder drops it; obs-text becomes text
            // (invalid UTF-8 repaired) on the general path: neither is relayed as it came.
            for position in 13..<statusEnd where !isPlainValueByte(buffer[position]) || buffer[position] == HTTPSyntax.tab {
                return nil
            }
            reason = HTTPSyntax.commonString(buffer, 13..<statusEnd)
        }
        // Fields, up to the empty line: kept lines already in their sent form are referenced
        // (runs of the read bytes); from the first that is not (or a fifth run), all are written.
        var runs = FieldRuns()
        var encoded: [UInt8]?
        var contentLength: Int?
        var position = statusEnd + 2
        var fields = 0
        while true {
            guard let end = lineEnd(buffer, from: position) else { return nil }
            if end == position {
                position += 2
                break
            }
            fields += 1
            guard fields <= limits.maxHeaderCount else { return nil }
            // name ":" OWS value OWS, as HTTPSyntax.parseField takes it.
            var colon = position
            while colon < end, HTTPSyntax.isTokenChar(buffer[colon]) { colon += 1 }
            guard colon > position, colon < end, buffer[colon] == HTTPSyntax.colon else { return nil }
            var valueStart = colon + 1
            var valueEnd = end
            while valueStart < valueEnd, HTTPSyntax.isWhitespace(buffer[valueStart]) { valueStart += 1 }
            while valueEnd > valueStart, HTTPSyntax.isWhitespace(buffer[valueEnd - 1]) { valueEnd -= 1 }
            for index in valueStart..<valueEnd where !isPlainValueByte(buffer[index]) { return nil }
            let name = UnsafeBufferPointer(rebasing: buffer[position..<colon])
            let value = UnsafeBufferPointer(rebasing: buffer[valueStart..<valueEnd])
            switch special(name) {
            case .contentLength:
                guard contentLength == nil, let length = decimal(value) else { return nil }
                contentLength = length
            case .transferEncoding:
                return nil
            case .connection:
                guard HTTPHeaders.bytesEqual(value, lowercased: "keep-alive") else { return nil }
            case .other:
                guard filter.keeps(name) else { break }
                let asSent = valueStart == colon + 2 && buffer[colon + 1] == HTTPSyntax.space && valueEnd == end
                if encoded == nil, asSent, runs.add(position..<(end + 2)) { break }
                if encoded == nil {
                    var written: [UInt8] = []
                    written.reserveCapacity(count)
                    runs.forEach { written.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[$0])) }
                    encoded = written
                }
                encoded?.append(contentsOf: name)
                encoded?.append(HTTPSyntax.colon)
                encoded?.append(HTTPSyntax.space)
                encoded?.append(contentsOf: value)
                encoded?.append(HTTPSyntax.cr)
                encoded?.append(HTTPSyntax.lf)
            }
            position = end + 2
        }
        guard position < limits.maxHeaderBytes, let length = contentLength, length <= filter.maxBody, length <= limits.maxBodyBytes,
              count - position == length else { return nil }
        return HTTPRelayedResponse(status: status, reason: reason, rewrittenFields: encoded, fieldRuns: runs, bytes: bytes,
                                   body: bytes[position..<count])
    }

    /// A field-value byte that is ASCII: HTAB, space or visible. Obs-text (0x80 and up) is valid
    /// but the general path reads it as text (repairing invalid UTF-8), so it is left to that path.
    private static func isPlainValueByte(_ byte: UInt8) -> Bool {
        byte == HTTPSyntax.tab || (byte >= 0x20 && byte < 0x7F)
    }

    /// The index of the CR of the CRLF ending the line that starts at `start`; nil when the
    /// line does not end in the buffer or its first CR is not followed by LF. (The CR is found
    /// with `memchr`. A bare LF before it is not looked for here: every caller validates each
    /// byte of the line, and an LF is valid in none of them, so such a line is refused there.)
    private static func lineEnd(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard start < buffer.count, let base = buffer.baseAddress,
              let found = memchr(base + start, Int32(HTTPSyntax.cr), buffer.count - start) else { return nil }
        let index = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
        guard index + 1 < buffer.count, buffer[index + 1] == HTTPSyntax.lf else { return nil }
        return index
    }

    private enum Special { case contentLength, transferEncoding, connection, other }

    private static func special(_ name: UnsafeBufferPointer<UInt8>) -> Special {
        switch name.count {
        case 10: return HTTPHeaders.bytesEqual(name, lowercased: "connection") ? .connection : .other
        case 14: return HTTPHeaders.bytesEqual(name, lowercased: "content-length") ? .contentLength : .other
        case 17: return HTTPHeaders.bytesEqual(name, lowercased: "transfer-encoding") ? .transferEncoding : .other
        default: return .other
        }
    }

    /// Digits only, no sign, no list, no overflow.
    private static func decimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }
}
