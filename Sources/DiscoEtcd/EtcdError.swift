import DiscoCore

// MARK: - EtcdError

/// A failed etcd call, naming etcd, the endpoint(s) asked, the operation and etcd's (or the
/// gateway's) own message, e.g. `etcd http://127.0.0.1:2379: txn /disco/log/: unreachable: ...`.
public struct EtcdError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        /// No endpoint could be reached or none answered in time.
        case unavailable
        /// etcd answered with an error (its message is in ``EtcdError/message``).
        case rejected
        /// Credentials were missing or refused.
        case unauthorized
        /// The answer could not be understood.
        case malformed
        /// A watch asked for revisions etcd has compacted away; resume from `compactRevision`
        /// after re-reading the state.
        case compacted(compactRevision: Int64)
        /// The lease is gone (expired, revoked, or its keep-alive deadline passed).
        case leaseLost(id: Int64)

        public var description: String {
            switch self {
            case .unavailable: "unavailable"
            case .rejected: "rejected"
            case .unauthorized: "unauthorized"
            case .malformed: "malformed answer"
            case .compacted(let revision): "compacted (oldest revision kept \(revision))"
            case .leaseLost(let id): "lease \(String(id, radix: 16)) lost"
            }
        }
    }

    public let kind: Kind
    /// The endpoint that answered (or every endpoint tried, comma-separated).
    public let endpoint: String
    /// The operation and key, such as `txn /disco/seq`.
    public let operation: String
    /// etcd's or the transport's message.
    public let message: String

    public init(_ kind: Kind, endpoint: String, operation: String, message: String) {
        self.kind = kind
        self.endpoint = endpoint
        self.operation = operation
        self.message = message
    }

    /// The gateway's error in etcd's terms.
    init(_ error: DiscoveryError, operation: String) {
        let kind: Kind = switch error.kind {
        case .unauthorized: .unauthorized
        case .serverError: .rejected
        case .malformed: .malformed
        default: .unavailable
        }
        self.init(kind, endpoint: error.server, operation: operation, message: error.detail)
    }

    public var description: String { "etcd \(endpoint): \(operation): \(kind): \(message)" }

    /// Whether retrying later (against the same or another endpoint) may succeed.
    public var isTransient: Bool {
        switch kind {
        case .unavailable: true
        case .rejected: message.contains("leader") || message.contains("timed out") || message.contains("Unavailable")
        default: false
        }
    }
}
