// MARK: - Request line and headers

/// An HTTP version such as 1.1.
public struct HTTPVersion: Sendable, Hashable, CustomStringConvertible {
    public let major: Int
    public let minor: Int

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    public var description: String { "HTTP/\(major).\(minor)" }
}

/// A parsed request line and header section, with the body framing already validated.
public struct HTTPRequestHead: Sendable, Hashable {
    /// The method token exactly as sent (methods are case-sensitive).
    public var method: String
    /// The request target in origin form, `/path?query`: as sent, or, for an absolute-form
    /// target (`http://host:port/path?query`, ``targetForm`` `.absolute`), its path and query
    /// (`/` when it has no path); `*` for a server-wide `OPTIONS` (`OPTIONS *`, or `OPTIONS
    /// http://host:port` with neither path nor query), `host:port` for `CONNECT`.
    public var target: String
    /// The form the target was sent in.
    public var targetForm: HTTPRequestTargetForm
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The declared body length, if the body is sized.
    public var contentLength: Int?
    /// True when the body uses chunked transfer coding.
    public var isChunked: Bool

    /// True when the request declares a body (sized and non-empty, or chunked).
    public var hasBody: Bool { isChunked || (contentLength ?? 0) > 0 }
}

extension HTTPRequestHead {
    /// Parses the request line and fields found by the scanner and applies the framing rules of
    /// RFC 9112 §6 strictly, so no two readers could disagree about where this request ends.
    static func parse(
        _ buffer: UnsafeBufferPointer<UInt8>,
        lines: [Range<Int>],
        limits: HTTPParserLimits
    ) throws(HTTPParseError) -> HTTPRequestHead {
        guard let requestLine = lines.first else { throw .bad("missing request line") }
        let (method, received, version) = try parseRequestLine(buffer, requestLine)
        let (target, form, absolute) = try classify(received, method: method)
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            headers.add(field: try HTTPSyntax.parseField(buffer, line))
        }
        if version.minor >= 1 {
            let hosts = headers.count(of: "Host")
            if hosts == 0 { throw .bad("missing Host header; HTTP/1.1 requests must carry exactly one") }
            if hosts > 1 { throw .bad("multiple Host headers; exactly one is allowed") }
        }
        // A Host that comes must be valid (RFC 9110 §7.2), in HTTP/1.0 too, whatever the target's
        // form: nothing but a host and a port reaches the upstream, `X-Forwarded-Host` or `Forwarded`.
        for host in headers.values(for: "Host") {
            var value = host
            let valid = value.withUTF8 { HTTPAbsoluteTarget.isValidHostField($0) }
            guard valid else {
                throw .bad("invalid Host header '\(host.prefix(100))'; expected host[:port]: a name (letters, digits, '-._~' or %XX), "
                    + "an IPv4 address or a bracketed IPv6 address, and a port up to 65535")
            }
        }
        if let absolute {
            // The target's authority is the request's host: the received `Host` is ignored
            // (RFC 9112 §3.2.2), and replaced in place so every reader of the head sees one.
            headers.replaceFirst(name: "Host", value: absolute.authority)
        }
        let contentLength = try HTTPSyntax.contentLength(headers)
        var chunked = false
        if headers.contains("Transfer-Encoding") {
            if contentLength != nil {
                throw .bad("both Content-Length and Transfer-Encoding present; a request may carry only one")
            }
            if version.minor == 0 { throw .bad("Transfer-Encoding is not allowed in an HTTP/1.0 request") }
            chunked = try HTTPSyntax.isChunked(headers)
        }
        if let contentLength, contentLength > limits.maxBodyBytes {
            throw HTTPParseError(status: 413, reason: "Content-Length \(contentLength) exceeds the limit of \(limits.maxBodyBytes) bytes")
        }
        return HTTPRequestHead(method: method, target: target, targetForm: form, version: version, headers: headers,
                               contentLength: contentLength, isChunked: chunked)
    }

    /// The target's form and the target the head carries: origin form as it came, `*` for
    /// `OPTIONS` (and for `OPTIONS` with an absolute-form target without path or query), anything for `CONNECT` (its handler decides), an `http`/`https` absolute-form
    /// target as its path and query (with its authority, checked). Anything else is refused.
    private static func classify(
        _ target: String, method: String
    ) throws(HTTPParseError) -> (String, HTTPRequestTargetForm, HTTPAbsoluteTarget?) {
        if target.utf8.first == UInt8(ascii: "/") { return (target, .origin, nil) }
        if method == "CONNECT" { return (target, .authority, nil) }
        if target == "*" && method == "OPTIONS" { return (target, .asterisk, nil) }
        guard let absolute = try HTTPAbsoluteTarget.parse(target) else {
            throw .bad("invalid request target '\(target.prefix(100))'; expected a path starting with '/' or an absolute http:// URL")
        }
        // `OPTIONS http://host:port` (no path, no query) asks about the server as a whole, as
        // `OPTIONS *` does, and is passed on as `*`, not `/` (RFC 9112 §3.2.4).
        if method == "OPTIONS", absolute.namesServerOnly { return ("*", .absolute, absolute) }
        return (absolute.originForm, .absolute, absolute)
    }

    /// `method SP request-target SP HTTP-version`, single spaces, no stray bytes.
    private static func parseRequestLine(
        _ buffer: UnsafeBufferPointer<UInt8>, _ line: Range<Int>
    ) throws(HTTPParseError) -> (String, String, HTTPVersion) {
        var index = line.lowerBound
        while index < line.upperBound, HTTPSyntax.isTokenChar(buffer[index]) { index += 1 }
        guard index > line.lowerBound else { throw .bad("request line must start with a method token") }
        guard index < line.upperBound, buffer[index] == HTTPSyntax.space else {
            if index < line.upperBound {
                throw .bad("invalid character 0x\(HTTPSyntax.hex(buffer[index])) in method; expected 'METHOD /path HTTP/1.1'")
            }
            throw .bad("request line has no target; expected 'METHOD /path HTTP/1.1'")
        }
        let method = HTTPSyntax.string(buffer, line.lowerBound..<index)
        index += 1
        let targetStart = index
        while index < line.upperBound, buffer[index] > 0x20, buffer[index] < 0x7F { index += 1 }
        guard index > targetStart else { throw .bad("empty request target or more than one space after the method") }
        guard index < line.upperBound, buffer[index] == HTTPSyntax.space else {
            if index < line.upperBound {
                throw .bad("invalid character 0x\(HTTPSyntax.hex(buffer[index])) in request target")
            }
            throw .bad("request line has no HTTP version; expected 'METHOD /path HTTP/1.1'")
        }
        let target = HTTPSyntax.string(buffer, targetStart..<index)
        index += 1
        let version = try parseVersion(buffer, index..<line.upperBound)
        return (method, target, version)
    }

    /// `HTTP/1.0` or `HTTP/1.1` (other 1.x minors are answered as 1.1; other majors get 505).
    static func parseVersion(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) throws(HTTPParseError) -> HTTPVersion {
        func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        let at = range.lowerBound
        guard range.count == 8,
              buffer[at] == UInt8(ascii: "H"), buffer[at + 1] == UInt8(ascii: "T"), buffer[at + 2] == UInt8(ascii: "T"),
              buffer[at + 3] == UInt8(ascii: "P"), buffer[at + 4] == UInt8(ascii: "/"),
              buffer[range.lowerBound + 6] == UInt8(ascii: "."),
              isDigit(buffer[range.lowerBound + 5]), isDigit(buffer[range.lowerBound + 7])
        else {
            throw .bad("invalid HTTP version '\(HTTPSyntax.string(buffer, range))'; expected HTTP/1.1 or HTTP/1.0")
        }
        let major = Int(buffer[range.lowerBound + 5] - 0x30)
        let minor = Int(buffer[range.lowerBound + 7] - 0x30)
        guard major == 1 else {
            throw HTTPParseError(status: 505, reason: "HTTP version \(HTTPSyntax.string(buffer, range)) is not supported; use HTTP/1.1")
        }
        return minor == 0 ? .http1_0 : .http1_1
    }
}
