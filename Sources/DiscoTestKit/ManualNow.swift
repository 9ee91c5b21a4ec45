import Synchronization

// MARK: - ManualNow

/// A "now" that moves only when a test moves it: hand ``now`` to code that takes a
/// `@Sendable () -> ContinuousClock.Instant`, then ``advance(by:)`` past a retention or timeout
/// instead of waiting for it.
public final class ManualNow: Sendable {
    private let instant: Mutex<ContinuousClock.Instant>

    /// Starting at `start` (the real now by default).
    public init(_ start: ContinuousClock.Instant = .now) {
        instant = Mutex(start)
    }

    /// The current instant.
    public var now: ContinuousClock.Instant { instant.withLock { $0 } }

    /// Moves the instant forward by `duration`.
    public func advance(by duration: Duration) {
        instant.withLock { $0 = $0.advanced(by: duration) }
    }
}
