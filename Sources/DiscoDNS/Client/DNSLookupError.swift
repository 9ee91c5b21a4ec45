// MARK: - DNSLookupError

/// Why a lookup failed: which server was asked, which record, and what went wrong.
///
/// `description` reads like `DNS A rqlite.local via 127.0.0.1:5353: the name does not exist
/// (NXDOMAIN)`.
public struct DNSLookupError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// NXDOMAIN: the name does not exist at all.
        public static let nameDoesNotExist = Code("the name does not exist (NXDOMAIN)")
        /// The name exists but has no records of the type asked for (NODATA).
        public static let noRecords = Code("the name has no records of this type")
        /// No answer within the time allowed, after every try.
        public static let timeout = Code("no answer (timeout)")
        /// The server's port is closed (ICMP port unreachable / ECONNREFUSED).
        public static let connectionRefused = Code("connection refused")
        /// SERVFAIL: the server could not answer.
        public static let serverFailure = Code("server failure (SERVFAIL)")
        /// REFUSED: the server will not answer this query.
        public static let queryRefused = Code("query refused (REFUSED)")
        /// Another error RCODE (FORMERR, NOTIMP, ...).
        public static let errorResponse = Code("error response")
        /// The answer could not be read, or does not answer the question.
        public static let malformedAnswer = Code("malformed answer")
        /// A CNAME chain that loops or is too long.
        public static let cnameLoop = Code("CNAME chain loops or is too long")
        /// The operating system failed a socket call or the system resolver failed.
        public static let systemFailure = Code("system error")
    }

    /// What kind of failure.
    public let code: Code
    /// The server asked: `host:port`, `system resolver (getaddrinfo)` or `system resolver (libresolv)`.
    public let server: String
    /// The record asked for, such as `SRV _rqlite._tcp.example.com`.
    public let question: String
    /// Specifics: tries made, RCODE, what was malformed and where.
    public let detail: String

    public init(_ code: Code, server: String, question: String, detail: String = "") {
        self.code = code
        self.server = server
        self.question = question
        self.detail = detail
    }

    public var description: String {
        let base = "DNS \(question) via \(server): \(code)"
        return detail.isEmpty ? base : "\(base): \(detail)"
    }
}

// MARK: - DNSConfigurationError

/// A discovery configuration that cannot work, with the field and what would be valid.
public struct DNSConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The configuration field, such as `name` or `nameserver`.
    public let field: String
    /// What is wrong and what would be right.
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "invalid DNS discovery config field \"\(field)\": \(reason)" }
}
