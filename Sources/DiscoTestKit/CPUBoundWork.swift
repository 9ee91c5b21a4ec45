import Dispatch

// MARK: - CPU-bound test work off the cooperative pool

/// Runs CPU-heavy test work (simulator seed sweeps) one job at a time on a dedicated dispatch
/// queue instead of Swift's cooperative thread pool.
///
/// This machine has two cooperative threads; seed sweeps running on them would starve every
/// test that waits on real servers and processes, until its deadline passes. Serialized here,
/// the sweeps use at most one core and the pool stays free for the I/O tests.
public enum CPUBoundWork {
    private static let queue = DispatchQueue(label: "disco.tests.cpu-bound", qos: .utility)

    /// Runs `work` on the CPU-bound queue and returns its result.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }
}
