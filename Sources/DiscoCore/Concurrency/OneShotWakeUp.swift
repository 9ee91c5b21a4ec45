import Synchronization

// MARK: - OneShotWakeUp

/// Wakes one suspended task exactly once: whoever calls ``wake()`` first (the event it waits for,
/// or its own cancellation handler) resumes it, later calls do nothing, and a wake-up that comes
/// before the task has suspended makes it return at once.
///
/// Its lock is a leaf (held only to swap the state; the continuation is resumed after it is
/// released), so ``wake()`` is safe from an `onCancel` handler, which Swift runs under the
/// cancelled task's status lock, and from code holding other locks.
public final class OneShotWakeUp: Sendable {
    private enum State {
        /// Not suspended and not woken yet.
        case pending
        /// Suspended on this continuation.
        case waiting(CheckedContinuation<Void, Never>)
        /// Woken (the task has been or will be resumed).
        case woken
    }

    private let state = Mutex(State.pending)

    public init() {}

    /// Suspends until ``wake()`` is called (returns at once if it was already). `beforeSuspending`
    /// runs once the continuation is in place, so a wake-up it triggers is not lost. Call it once.
    public func wait(beforeSuspending: () -> Void = {}) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyWoken = state.withLock { state -> Bool in
                guard case .pending = state else { return true }
                state = .waiting(continuation)
                return false
            }
            if alreadyWoken {
                continuation.resume()
            } else {
                beforeSuspending()
            }
        }
    }

    /// Resumes the task if it waits, or lets its ``wait(beforeSuspending:)`` return at once.
    public func wake() {
        let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
            defer { state = .woken }
            if case .waiting(let continuation) = state { return continuation }
            return nil
        }
        waiting?.resume()
    }

    /// True once ``wake()`` was called.
    public var isWoken: Bool {
        state.withLock { state in
            if case .woken = state { return true }
            return false
        }
    }
}
