import Dispatch

// MARK: - Blocking work off the cooperative pool

/// Runs work that blocks its thread (file system calls that wait on the disk, such as `fsync`;
/// waiting for a child process) on a dispatch queue of its own, so the few threads of Swift's
/// cooperative pool keep running tasks meanwhile. A queue of its own targets an overcommitting
/// root queue: the blocked thread is never one the pool needs (the plain global queue's can be).
public enum BlockingWork {
    /// Runs `work` off the cooperative pool and returns what it returned or throws what it threw.
    public static func run<T: Sendable, Failure: Error>(
        _ label: String, _ work: @escaping @Sendable () throws(Failure) -> T
    ) async throws(Failure) -> T {
        let result: Result<T, Failure> = await withCheckedContinuation { continuation in
            DispatchQueue(label: "disco.blocking.\(label)").async {
                continuation.resume(returning: Result { () throws(Failure) -> T in try work() })
            }
        }
        return try result.get()
    }
}
