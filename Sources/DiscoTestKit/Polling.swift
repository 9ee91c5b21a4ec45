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
