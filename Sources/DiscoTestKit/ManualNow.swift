import Synchronization

// MARK: - ManualNow

/// A "now" that moves only when a test moves it: hand ``now`` to code that takes a
/// `@Sendable () -> ContinuousClock.Instant` (or ``elapsed`` to code that measures time as a
/// duration since a fixed origin), then ``advance(by:)`` past a retention or timeout instead of
/// waiting for it, however slowly the machine runs.
public final class ManualNow: Sendable {
    private let start: ContinuousClock.Instant
    private let instant: Mutex<ContinuousClock.Instant>

    /// Starting at `start` (the real now by default).
    public init(_ start: ContinuousClock.Instant = .now) {
        self.start = start
        instant = Mutex(start)
    }

    /// The current instant.
    public var now: ContinuousClock.Instant { instant.withLock { $0 } }

    /// The time moved so far: the sum of every ``advance(by:)``.
    public var elapsed: Duration { now - start }

    /// Moves the instant forward by `duration`.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a ManualNow does not go back")
        instant.withLock { $0 = $0.advanced(by: duration) }
    }
}
