import Dispatch

// MARK: - CPU-bound test work off the cooperative pool

/// Runs CPU-heavy test work (simulator seed sweeps, model checks) one job at a time on a
/// dedicated dispatch queue instead of Swift's cooperative thread pool.
///
/// This machine has two cooperative threads; seed sweeps running on them would starve every
/// test that waits on real servers and processes, until its deadline passes. Serialized here,
/// the sweeps use at most one core and the pool stays free for the I/O tests.
public enum CPUBoundWork {
    /// A serial queue: a queue of its own runs on a thread of its own (a global or concurrent
    /// queue would share its threads with the cooperative pool on Linux).
    static let queue = DispatchQueue(label: "disco.tests.cpu-bound", qos: .utility)

    /// Runs `work` on the CPU-bound queue and returns its result.
    public static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: work()) }
        }
    }

    /// Runs a whole test body on the CPU-bound queue, in the calling task: task-local values
    /// (and so `#expect`'s idea of the current test) stay as they are, while the synchronous
    /// work inside never occupies a cooperative thread.
    public static func runTest<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        try await withTaskExecutorPreference(CPUBoundExecutor.shared) { try await body() }
    }
}

/// The task executor behind ``CPUBoundWork/runTest(_:)``: every job runs on the CPU-bound queue.
final class CPUBoundExecutor: TaskExecutor {
    static let shared = CPUBoundExecutor()

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        CPUBoundWork.queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
