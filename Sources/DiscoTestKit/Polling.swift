import Synchronization

// MARK: - Polling with a deadline

/// Thrown by ``waitUntil(_:timeout:pollEvery:_:)`` when the condition did not become true in time.
public struct WaitTimeout: Error, CustomStringConvertible {
    public let what: String
    public let timeout: Duration
    public var description: String { "timed out after \(timeout) waiting for \(what)" }
}

/// Polls `condition` until it returns true, or throws ``WaitTimeout`` after `timeout`.
///
/// Tests synchronise with real servers and processes this way, never by sleeping a fixed time.
/// Deadlines should be generous: they bound a hang, they do not assert speed.
public func waitUntil(
    _ what: String,
    timeout: Duration = .seconds(30),
    pollEvery interval: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        guard ContinuousClock.now < deadline else { throw WaitTimeout(what: what, timeout: timeout) }
        try await Task.sleep(for: interval)
    }
}

// MARK: - Bounding a call that might hang

/// Runs `operation` in a task and waits at most `timeout` for it to finish, returning what it
/// returned or threw. When it does not finish in time the task is cancelled and ``WaitTimeout``
/// is thrown: a call that would hang fails the test instead of stalling the suite.
public func outcome<T: Sendable>(
    of what: String,
    within timeout: Duration = .seconds(30),
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
