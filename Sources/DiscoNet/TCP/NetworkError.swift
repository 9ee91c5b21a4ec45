// MARK: - Connection errors

/// A failure on a TCP or UDP socket, naming the peer and what failed.
public struct NetworkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is. Extensible: compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        public static let connectRefused = Code(name: "connection refused")
        public static let connectTimeout = Code(name: "connect timed out")
        public static let connectFailed = Code(name: "connect failed")
        public static let connectionClosed = Code(name: "connection closed")
        public static let connectionReset = Code(name: "connection reset")
        public static let ioFailed = Code(name: "I/O failed")
        public static let cancelled = Code(name: "cancelled")
        /// A deadline set on the connection passed (``TCPConnection`` deadlines).
        public static let timedOut = Code(name: "timed out")
        /// Every address the host resolved to was left out by the caller's filter
        /// (``TCPConnection/connect(host:port:timeout:group:transport:excluding:)``): nothing was
        /// connected to.
        public static let excludedAddress = Code(name: "every address excluded")
    }

    public let code: Code
    /// The peer, as `host:port`.
    public let peer: String
    /// Details such as the failing syscall and errno.
    public let detail: String

    public init(_ code: Code, peer: String, detail: String = "") {
        self.code = code
        self.peer = peer
        self.detail = detail
    }

    public var description: String {
        detail.isEmpty ? "\(peer): \(code)" : "\(peer): \(code) (\(detail))"
    }
}
