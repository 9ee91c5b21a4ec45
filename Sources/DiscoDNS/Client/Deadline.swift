// MARK: - Deadlines for socket waits

/// The deadline of a wait passed first.
struct DeadlinePassed: Error {}

/// Runs `operation` until `deadline`, whichever ends first. When the deadline wins the operation
/// is cancelled (DiscoNet closes a socket whose wait is cancelled) and ``DeadlinePassed`` is
/// thrown.
func withDeadline<T: Sendable>(_ deadline: ContinuousClock.Instant, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(until: deadline, clock: .continuous)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlinePassed() }
        return value
    }
}
