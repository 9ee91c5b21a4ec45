// MARK: - Retry policy

/// When the proxy tries an upstream again: only for idempotent methods (RFC 9110 §9.2.2), only
/// when the request provably never reached the upstream (the connection was refused or never
/// established, or a pooled connection was found closed before anything was sent), and only
/// when no byte of the client's body has been consumed (an empty body can be sent again).
public struct RetryPolicy: Hashable, Sendable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int

    public init(maxAttempts: Int = 2) {
        self.maxAttempts = maxAttempts
    }

    /// How an attempt failed, as far as the retry decision cares.
    public enum Failure: Hashable, Sendable {
        /// No connection: refused, unreachable, or the connect timed out.
        case notConnected
        /// The request may have reached the upstream (sent, then no or a bad answer).
        case mayHaveReachedUpstream
    }

    public static let idempotentMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]

    /// Whether attempt number `attempt` (1 for the first) that failed with `failure` is tried again.
    public func shouldRetry(method: String, hasBody: Bool, failure: Failure, attempt: Int) -> Bool {
        attempt < maxAttempts && failure == .notConnected && !hasBody && Self.idempotentMethods.contains(method)
    }
}
