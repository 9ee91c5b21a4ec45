import Synchronization

// MARK: - GracefulShutdownSignal

/// The graceful-shutdown request of one service: triggered once by its group, observed by any
/// number of handlers and waiters. Reached through the task-local ``GracefulShutdownSignal/current``,
/// which a ``ServiceGroup`` sets for each service it runs (child tasks inherit it).
final class GracefulShutdownSignal: Sendable {
    private struct State {
        var triggered = false
        var nextID = 0
        var handlers: [Int: @Sendable () -> Void] = [:]
    }

    private let state = Mutex(State())
    /// Opened after the handlers ran; waiters wait on it.
    private let triggered = Latch()

    @TaskLocal static var current: GracefulShutdownSignal?

    var isTriggered: Bool { state.withLock { $0.triggered } }

    /// Runs every handler and resumes every waiter, once; later calls do nothing.
    func trigger() {
        let handlers = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.triggered else { return [] }
            state.triggered = true
            defer { state.handlers = [:] }
            return Array(state.handlers.values)
        }
        handlers.forEach { $0() }
        triggered.open()
    }

    /// Registers `handler`; returns nil (and runs it at once) when already triggered.
    func addHandler(_ handler: @escaping @Sendable () -> Void) -> Int? {
        let id = state.withLock { state -> Int? in
            guard !state.triggered else { return nil }
            state.nextID += 1
            state.handlers[state.nextID] = handler
            return state.nextID
        }
        if id == nil { handler() }
        return id
    }

    func removeHandler(_ id: Int) {
        _ = state.withLock { $0.handlers.removeValue(forKey: id) }
    }

    /// Suspends until triggered or until the task is cancelled (then it returns too).
    func wait() async {
        await triggered.wait()
    }
}

// MARK: - What a service calls

/// Suspends until the group running this service asks it to shut down gracefully. Throws
/// `CancellationError` when the task is cancelled first, and at once when the task is not run
/// by a ``ServiceGroup`` (nothing could ever ask).
public func gracefulShutdown() async throws {
    // Outside a group nothing asks for a graceful shutdown: only cancellation ends the wait.
    let signal = GracefulShutdownSignal.current ?? GracefulShutdownSignal()
    await signal.wait()
    if !signal.isTriggered { throw CancellationError() }
}

/// Whether the group running this task has asked its service to shut down gracefully.
public var isGracefulShutdownRequested: Bool {
    GracefulShutdownSignal.current?.isTriggered ?? false
}

/// Runs `operation`; if the group asks for a graceful shutdown meanwhile, calls
/// `onGracefulShutdown` once (at once when it has already asked). The handler must not block:
/// it should tell the operation to wind down (close a listener, finish a stream).
public func withGracefulShutdownHandler<T>(
    isolation: isolated (any Actor)? = #isolation,
    operation: () async throws -> T,
    onGracefulShutdown handler: @escaping @Sendable () -> Void
) async rethrows -> T {
    guard let signal = GracefulShutdownSignal.current else { return try await operation() }
    let id = signal.addHandler(handler)
    defer { if let id { signal.removeHandler(id) } }
    return try await operation()
}

/// Runs `operation` in a child task and cancels it when the group asks for a graceful
/// shutdown: the way to stop a loop that has nothing to drain. Returns the operation's result,
/// or nil when it was cancelled this way and ended by throwing `CancellationError`.
public func cancelOnGracefulShutdown<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: Outcome<T>.self) { group in
        group.addTask { .finished(try await operation()) }
        group.addTask {
            try? await gracefulShutdown()
            return .shutdownRequested
        }
        var result: T?
        var shutdownRequested = false
        while let outcome = try await nextOutcome(of: &group, afterShutdown: shutdownRequested) {
            switch outcome {
            case .finished(let value):
                result = value
                group.cancelAll()
            case .shutdownRequested:
                shutdownRequested = true
                group.cancelAll()
            }
        }
        return result
    }
}

private enum Outcome<T: Sendable>: Sendable {
    case finished(T)
    case shutdownRequested
}

/// The next child outcome; once a shutdown cancelled the operation, its `CancellationError` is
/// the expected end, not a failure.
private func nextOutcome<T: Sendable>(of group: inout ThrowingTaskGroup<Outcome<T>, any Error>,
                                      afterShutdown: Bool) async throws -> Outcome<T>? {
    do {
        return try await group.next()
    } catch is CancellationError where afterShutdown {
        return nil
    }
}
