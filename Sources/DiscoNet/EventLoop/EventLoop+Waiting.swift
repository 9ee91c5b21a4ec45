// MARK: - Waiting for loop-side work

extension EventLoop {
    /// Starts `operation` on this loop's thread with a continuation and waits for it to be
    /// resumed. If the waiting task is cancelled, `onCancel` runs on the loop (socket types close
    /// the socket there, which fails the pending operation and resumes the continuation).
    func run<T: Sendable>(
        _ operation: @escaping @Sendable (CheckedContinuation<T, any Error>) -> Void,
        onCancel: @escaping @Sendable () -> Void
    ) async throws -> T {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                self.execute { operation(continuation) }
            }
        } onCancel: {
            self.execute(onCancel)
        }
    }
}
