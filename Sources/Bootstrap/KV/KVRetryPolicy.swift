import DiscoCore

// MARK: - KVRetryPolicy

/// How often, and for how long, a KV-store operation is retried after a failure: exponential
/// backoff with jitter, bounded by a deadline and/or an attempt count.
///
/// The delay after the n-th consecutive failure is drawn uniformly from `[b/2, b]`, where
/// `b = min(initialBackoff × 2^(n-1), maxBackoff)`; the jitter keeps nodes that fail together
/// from retrying in lock step.
public struct KVRetryPolicy: Sendable, Hashable {
    /// The base delay after the first failure.
    public var initialBackoff: Duration
    /// The largest base delay.
    public var maxBackoff: Duration
    /// Give up once this much time has passed since the first attempt (`nil`: no time limit).
    public var deadline: Duration?
    /// Give up after this many attempts (`nil`: no limit). Counts the first attempt.
    public var maxAttempts: Int?

    public init(initialBackoff: Duration = .milliseconds(200), maxBackoff: Duration = .seconds(5),
                deadline: Duration? = .seconds(120), maxAttempts: Int? = nil) {
        self.initialBackoff = max(initialBackoff, .milliseconds(1))
        self.maxBackoff = max(maxBackoff, self.initialBackoff)
        self.deadline = deadline
        self.maxAttempts = maxAttempts
    }

    /// The delay to wait after `failures` consecutive failures (1 for the first).
    public func backoff(afterFailures failures: Int, random: inout DeterministicRandom) -> Duration {
        var base = initialBackoff
        var doublings = max(0, failures - 1)
        while doublings > 0 && base < maxBackoff {
            base *= 2
            doublings -= 1
        }
        base = min(base, maxBackoff)
        let spread = base / 2
        let spreadNanoseconds = max(0, spread.nanosecondsClamped)
        let jitter = spreadNanoseconds == 0 ? 0 : Int64.random(in: 0...spreadNanoseconds, using: &random)
        return spread + .nanoseconds(jitter)
    }

    /// Whether another attempt is allowed after `attempts` attempts and `elapsed` time.
    public func allowsAnotherAttempt(after attempts: Int, elapsed: Duration) -> Bool {
        if let maxAttempts, attempts >= maxAttempts { return false }
        if let deadline, elapsed >= deadline { return false }
        return true
    }
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to `Int64`.
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return total
    }
}
