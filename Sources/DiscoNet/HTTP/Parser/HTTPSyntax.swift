// MARK: - Character classes and field parsing (RFC 9110 §5.6, RFC 9112 §5)

/// Byte-level grammar shared by the request and response parsers. Pure functions over buffers.
enum HTTPSyntax {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let colon = UInt8(ascii: ":")

    /// `tchar` from RFC 9110: the characters allowed in methods and field names.
    /// (A bit per byte below 128, in two words: a shift and a test per byte instead of range
    /// and character comparisons; the parsers ask it for every byte of every field name.)
    static func isTokenChar(_ byte: UInt8) -> Bool {
        // Bits set: ! # $ % & ' * + - . and 0-9 in the first word; A-Z ^ _ ` a-z | ~ in the second.
        if byte < 64 { return (0x03FF_6CFA_0000_0000 as UInt64) >> UInt64(byte) & 1 != 0 }
        if byte < 128 { return (0x57FF_FFFF_C7FF_FFFE as UInt64) >> UInt64(byte &- 64) & 1 != 0 }
        return false
    }

    /// Bytes allowed inside a field value: HTAB, visible ASCII, space and obs-text; no controls.
    static func isFieldValueChar(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    static func string(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: buffer[range]), as: UTF8.self)
    }

    /// ``string(_:_:)`` for a token that is usually one of a few (a method, a reason phrase):
    /// those come as literals, without decoding and validating the bytes (the same value).
    static func commonString(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        let bytes = UnsafeBufferPointer(rebasing: buffer[range])
        switch bytes.count {
        case 2 where bytes[0] == 0x4F && bytes[1] == 0x4B: return "OK"
        case 3 where bytes[0] == 0x47 && bytes[1] == 0x45 && bytes[2] == 0x54: return "GET"
        case 3 where bytes[0] == 0x50 && bytes[1] == 0x55 && bytes[2] == 0x54: return "PUT"
        case 4 where bytes[0] == 0x50 && bytes[1] == 0x4F && bytes[2] == 0x53 && bytes[3] == 0x54: return "POST"
        case 4 where bytes[0] == 0x48 && bytes[1] == 0x45 && bytes[2] == 0x41 && bytes[3] == 0x44: return "HEAD"
        default: return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Parses one `name: value` line (without its CRLF) into a field, rejecting obs-fold,
    /// whitespace before the colon, bad name characters and control characters in the value.
    static func parseField(_ buffer: UnsafeBufferPointer<UInt8>, _ line: Range<Int>) throws(HTTPParseError) -> HTTPField {
        guard let first = line.first.map({ buffer[$0] }) else { throw .bad("empty header line") }
        if isWhitespace(first) {
            throw .bad("obsolete line folding (a header line starting with whitespace) is not allowed")
        }
        var index = line.lowerBound
        while index < line.upperBound, isTokenChar(buffer[index]) { index += 1 }
        guard index < line.upperBound else {
            throw .bad("header line without a colon; expected 'Name: value'")
        }
        let nameEnd = index
        let stop = buffer[index]
        if stop != colon {
            if isWhitespace(stop) {
                throw .bad("whitespace between header name '\(string(buffer, line.lowerBound..<nameEnd))' and colon is not allowed")
            }
            throw .bad("invalid character 0x\(hex(stop)) in header name; names are tokens (RFC 9110 tchar)")
        }
        guard nameEnd > line.lowerBound else { throw .bad("header line with an empty name") }
        var valueStart = nameEnd + 1
        var valueEnd = line.upperBound
        while valueStart < valueEnd, isWhitespace(buffer[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart, isWhitespace(buffer[valueEnd - 1]) { valueEnd -= 1 }
        for position in valueStart..<valueEnd where !isFieldValueChar(buffer[position]) {
            throw .bad("control character 0x\(hex(buffer[position])) in value of header '\(string(buffer, line.lowerBound..<nameEnd))'")
        }
        return HTTPField(name: string(buffer, line.lowerBound..<nameEnd), value: string(buffer, valueStart..<valueEnd))
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }

    /// Parses a non-negative decimal without sign or spaces; nil if not all digits or it overflows.
    static func parseDecimal(_ text: Substring) -> Int? {
        guard !text.isEmpty else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = plus
        }
        return value
    }

    /// Validates every `Content-Length` value: digits only; repeated identical values (in separate
    /// fields or a comma list) fold into one, differing values are rejected.
    static func contentLength(_ headers: HTTPHeaders) throws(HTTPParseError) -> Int? {
        var result: Int?
        for field in headers where HTTPHeaders.namesEqual(field.name, "Content-Length") {
            let value = field.value
            for part in value.split(separator: ",", omittingEmptySubsequences: false) {
                let trimmed = part.trimmingASCIIWhitespace()
                guard let length = parseDecimal(trimmed) else {
                    throw .bad("invalid Content-Length '\(value)'; expected a non-negative decimal number")
                }
                if let previous = result, previous != length {
                    throw .bad("conflicting Content-Length values \(previous) and \(length)")
                }
                result = length
            }
        }
        return result
    }

    /// Validates `Transfer-Encoding`: the only coding we implement is `chunked`, and it must be the
    /// final (here: only) one. Returns true when the message is chunked.
    static func isChunked(_ headers: HTTPHeaders) throws(HTTPParseError) -> Bool {
        let values = headers.values(for: "Transfer-Encoding")
        if values.isEmpty { return false }
        var codings: [String] = []
        for value in values {
            for part in value.split(separator: ",", omittingEmptySubsequences: false) {
                let coding = part.trimmingASCIIWhitespace().lowercased()
                guard !coding.isEmpty else { throw .bad("empty transfer coding in Transfer-Encoding '\(value)'") }
                codings.append(coding)
            }
        }
        for coding in codings where coding != "chunked" {
            throw HTTPParseError(status: 501, reason: "unsupported transfer coding '\(coding)'; only 'chunked' is implemented")
        }
        if codings.count > 1 { throw .bad("'chunked' applied more than once in Transfer-Encoding") }
        return true
    }
}
