import Dispatch

// MARK: - Blocking test work off the cooperative pool

/// Runs blocking test work (socket reads with timeouts, probes, timed request runs) on a serial
/// queue of its own per call, so it waits on a thread of its own: Dispatch's global queues share
/// their threads with Swift's cooperative pool on Linux, and a wait there stalls every task.
public enum BlockingWork {
    /// Runs `work` on a thread of its own and returns its result (or error).
    public static func run<T: Sendable>(_ label: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue(label: label).async { continuation.resume(with: Result(catching: work)) }
        }
    }

    /// ``run(_:_:)`` for work that cannot fail.
    public static func run<T: Sendable>(_ label: String, _ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            DispatchQueue(label: label).async { continuation.resume(returning: work()) }
        }
    }
}
