#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import CDiscoEpoll

// MARK: - Monotonic time for the event loop

/// Nanoseconds on `CLOCK_MONOTONIC`. The event loop's timers use this directly: it is cheap (vDSO)
/// and never jumps with wall-clock changes.
enum MonotonicClock {
    static func nowNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) &* 1_000_000_000 &+ UInt64(spec.tv_nsec)
    }

    /// Converts a `Duration` to whole nanoseconds, saturating at zero for negative values.
    static func nanoseconds(_ duration: Duration) -> UInt64 {
        // A negative duration has negative seconds, or none and negative attoseconds.
        guard duration > .zero else { return 0 }
        // Up to about 2.6 hours (the timeouts set for every request): 10^9 = 2^9 * 1953125, so
        // whole nanoseconds are the attoseconds shifted right by 9 then divided in 64 bits, the
        // same value as from `components` without its 128-bit division and multiplications
        // (a few hundred instructions, twice per proxied request).
        let shifted = duration.attoseconds >> 9
        if shifted <= Int128(UInt64.max) { return UInt64(shifted) / 1_953_125 }
        let (seconds, attoseconds) = duration.components
        let (secNanos, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return UInt64.max / 2 }
        return secNanos &+ UInt64(attoseconds / 1_000_000_000)
    }
}
