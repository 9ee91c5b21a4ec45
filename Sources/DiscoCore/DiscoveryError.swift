// MARK: - DiscoveryError

/// A failed discovery lookup or KV call, naming the server, the record and what went wrong.
public struct DiscoveryError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; compare with the static members (`.timeout`, ...).
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// No answer within the deadline.
        public static let timeout = Kind(name: "timeout")
        /// The server refused the connection or could not be reached.
        public static let unreachable = Kind(name: "unreachable")
        /// The name does not exist (DNS NXDOMAIN).
        public static let nameNotFound = Kind(name: "name not found")
        /// The server answered, but with an error status.
        public static let serverError = Kind(name: "server error")
        /// Credentials were missing or rejected.
        public static let unauthorized = Kind(name: "unauthorized")
        /// The answer could not be understood.
        public static let malformed = Kind(name: "malformed answer")
        public var description: String { name }
    }

    public let kind: Kind
    /// The server that was asked, e.g. `http://127.0.0.1:2379` or `127.0.0.1:53`.
    public let server: String
    /// The record or key concerned, e.g. `/disco/leader` or `_disco._tcp.example.com SRV`.
    public let record: String
    /// What went wrong, in words.
    public let detail: String
    /// False only when the request certainly never reached the server (the connection was
    /// refused or could not be made): a request that must not be carried out twice may then be
    /// sent elsewhere.
    public let mayHaveReachedServer: Bool

    public init(_ kind: Kind, server: String, record: String, detail: String, mayHaveReachedServer: Bool = true) {
        self.kind = kind
        self.server = server
        self.record = record
        self.detail = detail
        self.mayHaveReachedServer = mayHaveReachedServer
    }

    public var description: String { "\(record) via \(server): \(kind): \(detail)" }
}
