import Synchronization

// MARK: - HandClock

/// Monotonic time that only a test moves: a duration since its start, advanced by hand. Code
/// that takes its time as a closure (`@Sendable () -> Duration`) gets ``now`` and then sees
/// exactly the time the test sets, however slowly the machine runs.
public final class HandClock: Sendable {
    private let value = Mutex(Duration.zero)

    public init() {}

    /// The time now: the sum of every ``advance(by:)`` so far.
    public var now: Duration { value.withLock { $0 } }

    /// Moves the time forward by `duration` (not negative).
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a HandClock does not go back")
        value.withLock { $0 += duration }
    }
}
