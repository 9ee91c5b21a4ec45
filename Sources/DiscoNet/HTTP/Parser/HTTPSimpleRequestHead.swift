// MARK: - Recognising a simple request head in place

/// Where one header field of a recognised head lies in the head's bytes: its name, and its
/// value without the whitespace around it (as the parser trims it).
public struct HTTPFieldSpan: Sendable, Hashable {
    public let name: Range<Int>
    public let value: Range<Int>
}

/// The common request head, recognised in the receive buffer without making strings or a field
/// list: an HTTP/1.1 request in origin form (`/path?query`) without a body, whose bytes are all
/// printable ASCII, with exactly one `Host`, whose value is valid.
///
/// Recognising is strictly narrower than parsing: every head recognised here is one the
/// general parser (``HTTPRequestParser``) accepts, with the same length, method, target,
/// version and fields (names as sent, values trimmed), and no body. Anything else (an
/// incomplete head, a body, `Expect`, HTTP/1.0, absolute-form, bytes above 0x7E, any limit
/// approached, anything malformed) is not recognised and goes to the general parser, which
/// accepts it or answers the error. The fuzz harness `Fuzz/HTTPRequestHead` checks the one
/// against the other.
public struct HTTPSimpleRequestHead: Sendable, Hashable {
    /// The bytes the head occupies, through the empty line that ends it.
    public let length: Int
    public let method: Range<Int>
    /// The request target (it starts with `/`).
    public let target: Range<Int>
    /// A `Connection` field lists `close`.
    public let asksToClose: Bool

    /// Recognises the head at the start of `buffer`, writing its fields' spans into `fields`
    /// (emptied first; its storage is kept across calls). Nil when the head is not complete,
    /// not simple, or not valid: the general parser decides then.
    public static func recognise(
        _ buffer: UnsafeBufferPointer<UInt8>, limits: HTTPParserLimits, fields: inout [HTTPFieldSpan]
    ) -> HTTPSimpleRequestHead? {
        fields.removeAll(keepingCapacity: true)
        let count = buffer.count
        var index = 0
        // The request line: `METHOD /target HTTP/1.1`, single spaces.
        while index < count, HTTPSyntax.isTokenChar(buffer[index]) { index += 1 }
        guard index > 0, index < count, buffer[index] == HTTPSyntax.space else { return nil }
        let method = 0..<index
        index += 1
        let targetStart = index
        guard index < count, buffer[index] == UInt8(ascii: "/") else { return nil }
        while index < count, buffer[index] > 0x20, buffer[index] < 0x7F { index += 1 }
        guard index < count, buffer[index] == HTTPSyntax.space else { return nil }
        let target = targetStart..<index
        index += 1
        let versionLength = versionLine.utf8CodeUnitCount
        guard index + versionLength <= count, matchesVersionLine(buffer, at: index) else { return nil }
        index += versionLength
        // The parser refuses a request line longer than the limit: stay well inside it.
        guard index - 2 < limits.maxRequestLineBytes else { return nil }

        var hosts = 0
        var asksToClose = false
        while true {
            guard index + 1 < count else { return nil }
            if buffer[index] == HTTPSyntax.cr {
                guard buffer[index + 1] == HTTPSyntax.lf else { return nil }
                index += 2
                break
            }
            let nameStart = index
            while index < count, HTTPSyntax.isTokenChar(buffer[index]) { index += 1 }
            guard index > nameStart, index < count, buffer[index] == HTTPSyntax.colon else { return nil }
            let name = nameStart..<index
            index += 1
            while index < count, HTTPSyntax.isWhitespace(buffer[index]) { index += 1 }
            let valueStart = index
            var valueEnd = index
            while index < count {
                let byte = buffer[index]
                if byte == HTTPSyntax.cr { break }
                // Tab and printable ASCII only: no controls, no DEL, no bytes above 0x7E (which
                // the general path would decode, repairing invalid UTF-8).
                guard byte == HTTPSyntax.tab || (byte >= 0x20 && byte < 0x7F) else { return nil }
                index += 1
                if !HTTPSyntax.isWhitespace(byte) { valueEnd = index }
            }
            guard index + 1 < count, buffer[index + 1] == HTTPSyntax.lf else { return nil }
            index += 2
            // Below the parser's limits on the field count and the section's size.
            guard fields.count + 1 < limits.maxHeaderCount, index < limits.maxHeaderBytes else { return nil }
            let value = valueStart..<valueEnd
            switch role(of: UnsafeBufferPointer(rebasing: buffer[name])) {
            case .host:
                // An invalid value is the general parser's to refuse.
                guard HTTPAbsoluteTarget.isValidHostField(UnsafeBufferPointer(rebasing: buffer[value])) else { return nil }
                hosts += 1
            case .connection:
                if listsClose(UnsafeBufferPointer(rebasing: buffer[value])) { asksToClose = true }
            case .framing:
                // A body (even an empty one, declared) or an expectation: the general path.
                return nil
            case .other:
                break
            }
            fields.append(HTTPFieldSpan(name: name, value: value))
        }
        guard hosts == 1, index < limits.maxHeaderBytes else { return nil }
        return HTTPSimpleRequestHead(length: index, method: method, target: target, asksToClose: asksToClose)
    }

    // MARK: Pieces

    private static let versionLine: StaticString = "HTTP/1.1\r\n"

    /// `HTTP/1.1` and CRLF at `index` (room for them already checked).
    private static func matchesVersionLine(_ buffer: UnsafeBufferPointer<UInt8>, at index: Int) -> Bool {
        let expected = versionLine.utf8Start
        for offset in 0..<versionLine.utf8CodeUnitCount where buffer[index + offset] != expected[offset] { return false }
        return true
    }

    private enum Role { case host, connection, framing, other }

    private static func role(of name: UnsafeBufferPointer<UInt8>) -> Role {
        switch name.count {
        case 4: return HTTPHeaders.bytesEqual(name, lowercased: "host") ? .host : .other
        case 6: return HTTPHeaders.bytesEqual(name, lowercased: "expect") ? .framing : .other
        case 10: return HTTPHeaders.bytesEqual(name, lowercased: "connection") ? .connection : .other
        case 14: return HTTPHeaders.bytesEqual(name, lowercased: "content-length") ? .framing : .other
        case 17: return HTTPHeaders.bytesEqual(name, lowercased: "transfer-encoding") ? .framing : .other
        default: return .other
        }
    }

    /// Whether the comma-separated `list` has the element `close`, as ``HTTPHeaders/hasToken(_:in:)`` finds it.
    private static func listsClose(_ list: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        while index < list.count {
            while index < list.count, list[index] == 0x20 || list[index] == 0x09 || list[index] == 0x2C { index += 1 }
            let start = index
            while index < list.count, list[index] != 0x2C { index += 1 }
            var end = index
            while end > start, list[end - 1] == 0x20 || list[end - 1] == 0x09 { end -= 1 }
            if HTTPHeaders.bytesEqual(UnsafeBufferPointer(rebasing: list[start..<end]), lowercased: "close") { return true }
        }
        return false
    }
}
