// MARK: - RateLimitedLog

/// Lets one log line through per `interval` and counts the ones held back, so a source that
/// repeats itself (a flood of bad datagrams, a client retrying in a loop) cannot flood the log.
/// ``KeyedLogThrottle`` does the same per key.
///
/// Pure: no clock is read; the caller passes the time as a duration since any fixed origin
/// (the same origin on every call).
public struct RateLimitedLog: Sendable {
    /// Shortest time between two lines.
    public var interval: Duration

    private var lastLogged: Duration?
    /// Lines held back since the last one let through.
    public private(set) var suppressed = 0

    public init(interval: Duration = .seconds(1)) { self.interval = interval }

    /// Whether to log now; when true, `suppressed` tells how many were held back since.
    public mutating func shouldLog(at now: Duration) -> (log: Bool, suppressed: Int) {
        if let lastLogged, now - lastLogged < interval {
            suppressed += 1
            return (false, 0)
        }
        lastLogged = now
        defer { suppressed = 0 }
        return (true, suppressed)
    }
}
