import Synchronization

// MARK: - PendingRequest

/// The answer to one request of a ``RaftNodeShell``, delivered exactly once: by the driver (the
/// entry applied, the read confirmed, leadership lost, the node shut down) or by the caller
/// giving up (its task was cancelled). Whichever comes first wins; later answers are ignored, so
/// the driver may keep a request it no longer needs to answer until it would have answered it.
final class PendingRequest<Value: Sendable>: Sendable {
    private enum State {
        /// Created; the caller has not started waiting yet.
        case idle
        /// The caller waits on this continuation.
        case waiting(CheckedContinuation<Value, any Error>)
        /// Answered before the caller started waiting (cancelled early).
        case answered(Result<Value, any Error>)
        /// The caller has its answer.
        case finished
    }

    private let state = Mutex(State.idle)
    /// What the caller is told when it stops waiting: what became of its request.
    private let cancellation: RaftShellError

    /// `cancelledMessage` says what happens to the request when its caller stops waiting (a
    /// proposal may still be applied; a read simply did not happen).
    init(cancelledMessage: String) {
        cancellation = RaftShellError(.cancelled, cancelledMessage)
    }

    // MARK: Answering

    func resume(returning value: Value) { resume(with: .success(value)) }

    func resume(throwing error: any Error) { resume(with: .failure(error)) }

    func resume(with result: Result<Value, any Error>) {
        let waiter: CheckedContinuation<Value, any Error>? = state.withLock { state in
            switch state {
            case .idle:
                state = .answered(result)
                return nil
            case .waiting(let continuation):
                state = .finished
                return continuation
            case .answered, .finished:
                return nil
            }
        }
        waiter?.resume(with: result)
    }

    /// Whether the caller already has its answer (or gave up).
    var isAnswered: Bool {
        state.withLock { state in
            if case .waiting = state { return false }
            if case .idle = state { return false }
            return true
        }
    }

    // MARK: Waiting

    /// Hands the request to the driver with `submit` and waits for the answer. `submit` returns
    /// false when the driver is gone (the node shut down). Cancelling the waiting task answers at
    /// once with ``RaftShellError/Code-swift.struct/cancelled``.
    func wait(submit: (PendingRequest<Value>) -> Bool) async throws -> Value {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
                let early: Result<Value, any Error>? = state.withLock { state in
                    switch state {
                    case .idle:
                        state = .waiting(continuation)
                        return nil
                    case .answered(let result):
                        state = .finished
                        return result
                    case .waiting, .finished:
                        // One wait per request: the shell never waits twice.
                        return .failure(RaftShellError(.invalidArgument, "a request was waited on twice"))
                    }
                }
                if let early {
                    continuation.resume(with: early)
                    return
                }
                if !submit(self) { resume(throwing: RaftShellError(.shutDown, "the node is shut down")) }
            }
        } onCancel: {
            resume(throwing: cancellation)
        }
    }
}

extension PendingRequest where Value == Void {
    func resume() { resume(with: .success(())) }
}
