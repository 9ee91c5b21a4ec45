import COpenSSL

// MARK: - TLS errors

/// Why TLS credentials could not be loaded or a context built, naming the file (or config
/// field) concerned and what is wrong with it.
public struct TLSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Extensible failure kinds; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// A file could not be read (missing, permissions, a directory).
        public static let unreadableFile = Code(name: "unreadable file")
        /// The text is not the PEM that was expected (no certificate, no key, corrupt base64).
        public static let badPEM = Code(name: "bad PEM")
        /// The private key does not belong to the certificate.
        public static let keyMismatch = Code(name: "key does not match certificate")
        /// A setting OpenSSL refused or a combination that cannot work.
        public static let badConfiguration = Code(name: "bad TLS configuration")
        /// The certificate's validity ended: every peer that verifies it refuses it.
        public static let expiredCertificate = Code(name: "expired certificate")
        /// The certificate's validity has not begun (by this machine's clock): every peer that
        /// verifies it refuses it until then.
        public static let notYetValidCertificate = Code(name: "certificate not valid yet")
    }

    /// Which of the configuration's inputs a failure concerns.
    public struct Role: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The certificate chain presented to peers.
        public static let certificateChain = Role(name: "certificate")
        /// The private key of that certificate.
        public static let privateKey = Role(name: "private key")
        /// The CA certificates trusted for peers.
        public static let trustRoots = Role(name: "CA certificate")
    }

    public let code: Code
    /// The file or config field concerned, when one is.
    public let source: String?
    public let detail: String
    /// What the file was given as, when the failure concerns one.
    public internal(set) var role: Role?

    public init(_ code: Code, source: String? = nil, detail: String) {
        self.code = code
        self.source = source
        self.detail = detail
    }

    /// Runs `body`, marking a failure as concerning `role`.
    static func concerning<T>(_ role: Role, _ body: () throws(TLSError) -> T) throws(TLSError) -> T {
        do {
            return try body()
        } catch {
            var marked = error
            marked.role = role
            throw marked
        }
    }

    public var description: String {
        if let source { return "\(source): \(detail)" }
        return detail
    }
}

// MARK: - OpenSSL's error queue

enum OpenSSLErrors {
    /// Empties this thread's OpenSSL error queue into readable reasons (`"unknown ca"`), oldest
    /// first; an empty string when the queue was empty.
    static func drain() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            reasons.append(reason(code))
        }
        return reasons.joined(separator: "; ")
    }

    /// One error code as text: OpenSSL's reason string, else its full error line.
    static func reason(_ code: UInt) -> String {
        if let text = ERR_reason_error_string(code) { return String(cString: text) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Clears this thread's queue before an SSL call, so `SSL_get_error` reports that call only.
    /// (Peeking first is cheaper than clearing an empty queue, which is the common case: every
    /// failure drains what it leaves.)
    @inline(__always) static func clear() {
        if ERR_peek_error() != 0 { ERR_clear_error() }
    }
}
