// MARK: - Waiting for loop-side work

extension EventLoop {
    /// Starts `operation` on this loop's thread with a continuation and waits for it to be
    /// resumed. If the waiting task is cancelled, `onCancel` runs on the loop (socket types close
    /// the socket there, which fails the pending operation and resumes the continuation).
    ///
    /// Called on the loop thread (a task preferring the loop), `operation` runs at once instead
    /// of as queued work: a read or write that can complete now costs no trip through the queue.
    func run<T: Sendable>(
        _ operation: @escaping @Sendable (CheckedContinuation<T, any Error>) -> Void,
        onCancel: @escaping @Sendable () -> Void
    ) async throws -> T {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if self.inLoop { operation(continuation) } else { self.execute { operation(continuation) } }
            }
        } onCancel: {
            self.execute(onCancel)
        }
    }
}
