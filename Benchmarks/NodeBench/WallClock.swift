@preconcurrency import Glibc

// MARK: - Wall-clock time shared with the run scripts

/// Seconds since the Unix epoch, the same clock as bash's `$EPOCHREALTIME`, so a start time taken
/// by the script just before it spawns processes can be compared with times taken here.
enum WallClock {
    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
