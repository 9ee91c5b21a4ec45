import Synchronization

// MARK: - Polling with a deadline

/// Thrown by ``waitUntil(_:timeout:pollEvery:_:)`` when the condition did not become true in time.
public struct WaitTimeout: Error, CustomStringConvertible {
    public let what: String
    public let timeout: Duration
    /// The last error the condition threw, for a poll that retries failed attempts.
    public var lastError: String?
    public var description: String {
        "timed out after \(timeout) waiting for \(what)" + (lastError.map { "; the last failed attempt threw: \($0)" } ?? "")
    }
}

/// Polls `condition` until it returns true, or throws ``WaitTimeout`` after `timeout`.
///
/// Tests synchronise with real servers and processes this way, never by sleeping a fixed time.
/// Deadlines should be generous: they bound a hang, they do not assert speed.
///
/// An error thrown by `condition` ends the wait at once, unless `retryingErrors` is true: then
/// a failed attempt (a request that timed out, a server busy for a moment) is a miss, polled
/// again until the deadline, and the ``WaitTimeout`` names the last error. Cancellation always
/// ends the wait.
public func waitUntil(
    _ what: String,
    timeout: Duration = .seconds(60),
    pollEvery interval: Duration = .milliseconds(20),
    retryingErrors: Bool = false,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    var lastError: String?
    while true {
        do {
            if try await condition() { return }
        } catch where retryingErrors && !(error is CancellationError) && !Task.isCancelled {
            lastError = "\(error)"
        }
        guard ContinuousClock.now < deadline else { throw WaitTimeout(what: what, timeout: timeout, lastError: lastError) }
        try await Task.sleep(for: interval)
    }
}

// MARK: - Reading once, asked again until it answers

/// What `ask` returns once it answers (returns non-nil without throwing), asked again after each
/// miss for at most `timeout`.
///
/// A read a test needs once, right after a wait, goes through this: on a loaded machine one
/// request can miss its timeout or be refused for a moment, and read as the answer it would fail
/// the test although nothing is wrong. Only the asking is retried; the caller still asserts on
/// the answer. Use it for reads, never for a request whose repetition would change the state.
/// Throws ``WaitTimeout`` naming the last error when no attempt answered in time.
public func firstAnswer<T>(
    _ what: String,
    timeout: Duration = .seconds(60),
    pollEvery interval: Duration = .milliseconds(100),
    _ ask: () async throws -> T?
) async throws -> T {
    var answer: T?
    try await waitUntil(what, timeout: timeout, pollEvery: interval, retryingErrors: true) {
        answer = try await ask()
        return answer != nil
    }
    guard let answer else { throw WaitTimeout(what: what, timeout: timeout) }
    return answer
}

// MARK: - Bounding a call that might hang

/// Runs `operation` in a task and waits at most `timeout` for it to finish, returning what it
/// returned or threw. When it does not finish in time the task is cancelled and ``WaitTimeout``
/// is thrown: a call that would hang fails the test instead of stalling the suite.
public func outcome<T: Sendable>(
    of what: String,
    within timeout: Duration = .seconds(60),
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> Result<T, any Error> {
    let finished = FinishedBox<T>()
    let task = Task {
        let result: Result<T, any Error>
        do {
            result = .success(try await operation())
        } catch {
            result = .failure(error)
        }
        finished.result.withLock { $0 = result }
    }
    do {
        try await waitUntil(what, timeout: timeout) { finished.result.withLock { $0 != nil } }
    } catch {
        task.cancel()
        throw error
    }
    await task.value
    guard let result = finished.result.withLock({ $0 }) else { throw WaitTimeout(what: what, timeout: timeout) }
    return result
}

/// Where ``outcome(of:within:_:)``'s task leaves its result.
private final class FinishedBox<T>: Sendable {
    let result = Mutex<Result<T, any Error>?>(nil)
}
