// MARK: - Client requests, responses, errors

/// A request for ``HTTPClient``. The URL must be `http://host[:port][/path][?query]` or the
/// same with `https://` (TLS through ``HTTPClientConfiguration/httpsTransport``).
public struct HTTPClientRequest: Sendable {
    public var method: String
    /// The whole URL. A request made from an ``HTTPOrigin`` and a target keeps them parsed and
    /// spells the URL out only when asked; setting this replaces them.
    public var url: String {
        get {
            switch location {
            case .text(let text): return text
            case .parsed(let parsed): return parsed.text
            }
        }
        set { location = .text(newValue) }
    }
    public var headers: HTTPHeaders
    /// A body of fixed bytes (sent with `Content-Length`); ignored when ``bodyStream`` is set.
    public var body: [UInt8]
    /// A body produced while it is sent, with back-pressure (see ``HTTPClientRequestBody``).
    public var bodyStream: HTTPClientRequestBody?
    /// Called with each interim (1xx) response the server sends before its final one
    /// (`103 Early Hints`…), in order, as soon as it is parsed: before the final head has
    /// arrived, and awaited before reading on. Nil: they are skipped. Never `101` (an upgrade's
    /// answer is the final one); at most ``HTTPResponseParser/maxInterimResponses`` (a server
    /// that sends more fails the request as malformed). A request is not retried once any
    /// response byte has arrived, so none is reported twice.
    public var onInterim: (@Sendable (HTTPInterimResponse) async -> Void)?

    /// Where the request goes: a URL as given, or an origin parsed once and a target.
    private enum Location: Sendable {
        case text(String)
        case parsed(HTTPURL)
    }
    private var location: Location

    public init(method: String = "GET", url: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.location = .text(url)
        self.headers = headers
        self.body = body
        self.bodyStream = nil
    }

    /// A request to `target` (a path and query starting with `/`, or `*` for `OPTIONS`) on `origin`, which was parsed
    /// once (a proxy's upstream): no URL text is made or parsed per request.
    public init(method: String = "GET", origin: HTTPOrigin, target: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        var parsed = origin.base
        parsed.target = target
        self.method = method
        self.location = .parsed(parsed)
        self.headers = headers
        self.body = body
        self.bodyStream = nil
    }

    /// The request's URL, parsed; a target given with an origin is checked as a parsed one is
    /// (a path starting with `/`, no whitespace or control characters), or is `*` for an
    /// `OPTIONS` about the server as a whole (RFC 9112 §3.2.4).
    func parsedURL() throws(HTTPClientError) -> HTTPURL {
        switch location {
        case .text(let text):
            return try HTTPURL.parse(text)
        case .parsed(let parsed):
            guard parsed.target.utf8.first == UInt8(ascii: "/") || (parsed.target == "*" && method == "OPTIONS") else {
                throw HTTPClientError(.invalidURL, host: parsed.authority, detail: "the target must start with / (or be * for OPTIONS)")
            }
            for byte in parsed.target.utf8 where byte <= 0x20 || byte == 0x7F {
                throw HTTPClientError(.invalidURL, host: parsed.authority, detail: "whitespace or control character in path")
            }
            return parsed
        }
    }

    /// A request whose body is streamed from `bodyStream`.
    public init(method: String = "POST", url: String, headers: HTTPHeaders = HTTPHeaders(), bodyStream: HTTPClientRequestBody) {
        self.init(method: method, url: url, headers: headers)
        self.bodyStream = bodyStream
    }

    /// True for methods that may be repeated safely (RFC 9110 §9.2.2).
    var isIdempotent: Bool { Self.isIdempotent(method) }

    /// Whether `method` may be repeated safely (RFC 9110 §9.2.2).
    static func isIdempotent(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE": true
        default: false
        }
    }
}

/// A complete response received by ``HTTPClient``.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var reason: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]
    public var trailers: HTTPHeaders

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// True for 301, 302, 303, 307 and 308 responses carrying a `Location`.
    public var isRedirect: Bool {
        [301, 302, 303, 307, 308].contains(status) && headers["Location"] != nil
    }
}

/// Why an HTTP client request failed, naming the host and what failed.
public struct HTTPClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Extensible failure kinds; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        public static let invalidURL = Code(name: "invalid URL")
        public static let unsupportedScheme = Code(name: "unsupported scheme")
        public static let connectFailed = Code(name: "connect failed")
        public static let connectTimeout = Code(name: "connect timed out")
        public static let timeout = Code(name: "request timed out")
        public static let malformedResponse = Code(name: "malformed response")
        public static let connectionClosed = Code(name: "connection closed")
        public static let tooManyRedirects = Code(name: "too many redirects")
        /// A redirect from `https://` to `http://`, which is never followed.
        public static let insecureRedirect = Code(name: "insecure redirect")
        public static let shutDown = Code(name: "client shut down")
        public static let bodyTooLarge = Code(name: "response body too large")
        /// The host resolves only to addresses the ``HTTPClientConfiguration/addressFilter``
        /// leaves out: no connection was opened.
        public static let excludedAddress = Code(name: "every address excluded")
    }

    public let code: Code
    /// The `host:port` the request went to.
    public let host: String
    public let detail: String

    public init(_ code: Code, host: String, detail: String = "") {
        self.code = code
        self.host = host
        self.detail = detail
    }

    public var description: String {
        detail.isEmpty ? "\(host): \(code)" : "\(host): \(code): \(detail)"
    }

    /// `error` from reading or writing an exchange with `host`, as a client error.
    static func describing(_ error: any Error, host: String) -> any Error {
        switch error {
        case let error as HTTPClientError: return error
        case let error as HTTPParseError: return HTTPClientError(.malformedResponse, host: host, detail: error.reason)
        case let error as NetworkError: return HTTPClientError(.connectionClosed, host: host, detail: error.description)
        default: return error
        }
    }
}

// MARK: - URLs

/// `http://host[:port]` or `https://host[:port]`, parsed once, for requests made with
/// ``HTTPClientRequest/init(method:origin:target:headers:body:)``.
public final class HTTPOrigin: Sendable, Hashable, CustomStringConvertible {
    // A class, not a struct: an origin is kept and passed along with every request of a proxy's
    // inline path, and a reference is one retain where the URL's strings were several.
    let base: HTTPURL

    /// Parses `text`; a path after the authority is refused (the target comes with each request).
    public init(_ text: String) throws(HTTPClientError) {
        let parsed = try HTTPURL.parse(text)
        guard parsed.target == "/", !text.hasSuffix("?") else {
            throw HTTPClientError(.invalidURL, host: text, detail: "expected http://host[:port] or https://host[:port] without a path")
        }
        base = parsed
    }

    /// `scheme://host[:port]`.
    public var description: String { base.origin }

    /// `host[:port]`: the value of a `Host` field for this origin.
    public var authority: String { base.authority }

    public static func == (lhs: HTTPOrigin, rhs: HTTPOrigin) -> Bool { lhs.base == rhs.base }

    public func hash(into hasher: inout Hasher) { hasher.combine(base) }
}

/// The parts of an `http://` or `https://` URL the client needs.
struct HTTPURL: Sendable, Hashable {
    let host: String
    let port: UInt16
    /// Path and query, starting with `/`.
    var target: String
    /// True for `https://` (TLS).
    let isTLS: Bool
    /// `host:port`, the value of the Host header (port omitted when it is the scheme's default).
    /// Made once: every request uses it several times.
    let authority: String
    /// `scheme://host:port`: the pool key (a TLS and a plain connection are never mixed).
    let origin: String

    init(host: String, port: UInt16, target: String, isTLS: Bool = false) {
        self.host = host
        self.port = port
        self.target = target
        self.isTLS = isTLS
        let bracketed = host.contains(":") ? "[\(host)]" : host
        authority = port == (isTLS ? 443 : 80) ? bracketed : "\(bracketed):\(port)"
        origin = (isTLS ? "https://" : "http://") + authority
    }

    /// `http` or `https`.
    var scheme: String { isTLS ? "https" : "http" }

    /// The whole URL again.
    var text: String { origin + target }

    /// Parses `http://host[:port][/path]` or `https://host[:port][/path]`.
    static func parse(_ text: String) throws(HTTPClientError) -> HTTPURL {
        let isTLS = hasPrefixIgnoringCase(text, "https://")
        guard isTLS || hasPrefixIgnoringCase(text, "http://") else {
            throw HTTPClientError(.invalidURL, host: text, detail: "expected http://host[:port]/path or https://host[:port]/path")
        }
        let rest = text.dropFirst(isTLS ? "https://".count : "http://".count)
        let slash = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<slash]
        var target = String(rest[slash...])
        if target.isEmpty { target = "/" } else if target.hasPrefix("?") { target = "/" + target }
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw HTTPClientError(.invalidURL, host: text, detail: "unterminated IPv6 literal")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw HTTPClientError(.invalidURL, host: text, detail: "unexpected text after IPv6 literal")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty, !host.contains("@") else {
            throw HTTPClientError(.invalidURL, host: text, detail: "missing or invalid host")
        }
        var port: UInt16 = isTLS ? 443 : 80
        if let portText {
            guard let value = UInt16(portText), value > 0 else {
                throw HTTPClientError(.invalidURL, host: text, detail: "invalid port '\(portText)'")
            }
            port = value
        }
        for byte in target.utf8 where byte <= 0x20 || byte == 0x7F {
            throw HTTPClientError(.invalidURL, host: text, detail: "whitespace or control character in path")
        }
        return HTTPURL(host: String(host), port: port, target: target, isTLS: isTLS)
    }

    /// True when `text` starts with the lower-case ASCII `prefix`, in any case (no lower-cased copy).
    private static func hasPrefixIgnoringCase(_ text: String, _ prefix: StaticString) -> Bool {
        let expected = UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        var index = 0
        for byte in text.utf8 {
            if index == expected.count { return true }
            let lower = (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
            guard lower == expected[index] else { return false }
            index += 1
        }
        return index == expected.count
    }

    /// Resolves a `Location` value against this URL: absolute URLs, absolute paths and
    /// relative paths.
    func resolving(_ location: String) throws(HTTPClientError) -> HTTPURL {
        if location.lowercased().hasPrefix("http://") || location.lowercased().hasPrefix("https://") {
            return try HTTPURL.parse(location)
        }
        if location.hasPrefix("//") { return try HTTPURL.parse("\(scheme):" + location) }
        var next = self
        if location.hasPrefix("/") {
            next.target = location
        } else {
            let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
            let directory = path.hasSuffix("/") ? path : String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) + "/"
            next.target = directory + location
        }
        return next
    }
}
