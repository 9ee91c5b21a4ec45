// MARK: - LimitRate

/// A zone's rate, `rate=10r/s` or `rate=30r/m`, kept the way nginx keeps it: as a whole number of
/// thousandths of a request per second.
///
/// The conversion rounds down, as nginx's does (`requests × 1000 / 60` for `r/m`), so `1r/m` is
/// 16 thousandths per second: one request every 62.5 s, not every 60 s. Rates in `r/s` are exact.
public struct LimitRate: Hashable, Sendable, CustomStringConvertible {
    /// The unit a rate is written in.
    public enum Unit: String, Hashable, Sendable, CaseIterable {
        case perSecond = "r/s"
        case perMinute = "r/m"

        /// Seconds in the unit: 1 or 60.
        public var seconds: Int { self == .perSecond ? 1 : 60 }
    }

    /// The largest number of requests a rate may name (keeps every product in 64 bits).
    public static let maximumRequests = 1_000_000_000

    /// The number written (`10` in `10r/s`).
    public let requests: Int
    /// The unit written.
    public let unit: Unit

    /// - Precondition: `requests` is in `1...maximumRequests` (parsers check user input first).
    public init(requests: Int, per unit: Unit) {
        precondition((1...Self.maximumRequests).contains(requests), "a rate needs 1...\(Self.maximumRequests) requests, got \(requests)")
        self.requests = requests
        self.unit = unit
    }

    /// Thousandths of a request per second, rounded down: nginx's `ctx->rate`. Always at least 16.
    public var milliRequestsPerSecond: Int64 { Int64(requests) * 1000 / Int64(unit.seconds) }

    /// As written in a configuration: `10r/s`, `30r/m`.
    public var description: String { "\(requests)\(unit.rawValue)" }
}
