import DiscoCore

// MARK: - DriftingClock

/// A node's monotonic clock in a simulation: any offset, and a rate that differs from real time
/// by a bounded fraction and may change at any moment (piecewise linear, always increasing).
public struct DriftingClock: Sendable, Hashable {
    /// The real (simulated) time and the local reading at the last rate change.
    private var anchorReal: Duration
    private var anchorLocal: Duration
    /// Local seconds per real second.
    public private(set) var rate: Double

    /// A clock reading `local` at real time `real`, running at `rate`.
    public init(real: Duration, local: Duration, rate: Double) {
        anchorReal = real
        anchorLocal = local
        self.rate = rate
    }

    /// The local reading at real time `real` (not before the last rate change).
    public func local(at real: Duration) -> Duration {
        let elapsed = Double((real - anchorReal).nanoseconds) * rate
        return anchorLocal + .nanoseconds(Int64(elapsed.rounded(.down)))
    }

    /// The earliest real time at which the clock reads `local` or more, if the rate stays as it
    /// is (a timer armed for `local`). Never earlier than `notBefore`.
    public func real(atLocal local: Duration, notBefore: Duration) -> Duration {
        let remaining = Double((local - anchorLocal).nanoseconds) / rate
        let real = anchorReal + .nanoseconds(Int64(remaining.rounded(.up)) + 1)
        return max(real, notBefore)
    }

    /// Changes the rate from real time `real` on, keeping the reading continuous.
    public mutating func setRate(_ newRate: Double, at real: Duration) {
        anchorLocal = local(at: real)
        anchorReal = real
        rate = newRate
    }
}
