// MARK: - LimitReqArithmetic

/// nginx's leaky bucket in integers, the formulas every decision is made of.
///
/// Units: time in whole milliseconds (any monotonic origin); a zone's rate in thousandths of a
/// request per second (``LimitRate/milliRequestsPerSecond``); a key's *excess* — the requests it
/// is ahead of the rate — in thousandths of a request. For a request at `now` on a state last
/// charged at `last`:
///
///     elapsed = now − last            (−60000 ≤ elapsed < 0 counts as 0, below −60000 as 1)
///     excess  = max(0, stored − rate × elapsed / 1000 + 1000)      (integer division)
///
/// A new key starts at excess 0, so its first request plus `burst` more pass at once. The request
/// is rejected when `excess > burst × 1000` (nothing is charged); otherwise the state stores the
/// new excess and, only when `elapsed ≠ 0`, `last = now`. A forwarded request waits
///
///     delay = (excess − threshold) × 1000 / rate  ms     when excess > threshold
///
/// where the threshold is 0 by default, `N × 1000` for `delay=N` and unbounded for `nodelay`.
/// The remainder of `rate × elapsed / 1000` is dropped while `last` moves on, so slow rates
/// drain a little slower than written when requests come within milliseconds of each other —
/// nginx does the same, and so must we to decide the same.
///
/// A state is *drained* when `stored − rate × |now − last| / 1000 ≤ 0`; nginx frees up to two
/// drained states that have been idle for at least 60 s from the least recently used end each
/// time it adds a state, and when the zone is full it first evicts the least recently used
/// state whatever its excess.
public enum LimitReqArithmetic {
    /// States idle for less than this are never freed as drained.
    public static let idleBeforeFreeing: Int64 = 60_000

    /// The elapsed milliseconds nginx uses for a state last charged at `last`.
    public static func elapsed(now: Int64, last: Int64) -> Int64 {
        let elapsed = now &- last
        if elapsed < -60_000 { return 1 }
        return max(elapsed, 0)
    }

    /// What `rate` drains in `milliseconds` (≥ 0), in thousandths, saturating instead of overflowing.
    public static func drained(rate: Int64, milliseconds: Int64) -> Int64 {
        let (product, overflow) = rate.multipliedReportingOverflow(by: milliseconds)
        return overflow ? Int64.max : product / 1000
    }

    /// The excess after one more request, `elapsed` ms after the stored excess was charged.
    public static func excess(stored: Int64, rate: Int64, elapsed: Int64) -> Int64 {
        max(0, stored - drained(rate: rate, milliseconds: elapsed) + 1000)
    }

    /// The delay in ms for a forwarded request at `excess` (0 when at or under the threshold).
    public static func delay(excess: Int64, threshold: Int64, rate: Int64) -> Int64 {
        guard excess > threshold else { return 0 }
        let (product, overflow) = (excess - threshold).multipliedReportingOverflow(by: 1000)
        return overflow ? Int64.max / rate : product / rate
    }

    /// Whether nginx may free a state (stored excess, last charged at `last`) at `now` as drained.
    public static func isDrained(stored: Int64, last: Int64, rate: Int64, now: Int64) -> Bool {
        guard last != LimitReqStateTable.neverCharged else { return true }
        let idle = (now &- last).magnitude
        guard idle >= UInt64(idleBeforeFreeing) else { return false }
        let milliseconds = idle > UInt64(Int64.max) ? Int64.max : Int64(idle)
        return stored - drained(rate: rate, milliseconds: milliseconds) <= 0
    }
}
