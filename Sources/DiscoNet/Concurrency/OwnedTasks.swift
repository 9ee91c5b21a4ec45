import Synchronization

// MARK: - OwnedTasks

/// The tasks one owner (a server, a shell, a connection set) started and must not outlive it.
///
/// Every task started through ``spawn(executorPreference:_:)`` is tracked until it returns;
/// ``cancelAll()`` cancels those still running and ``close()`` refuses new ones, cancels the rest
/// and waits until every one has returned. A synchronous context (a cancellation handler, a
/// non-async callback) starts its work here instead of in a task nobody holds, so the owner's
/// shutdown still waits for it.
///
/// In the I/O shells a task either keeps its handle where its owner's shutdown cancels or awaits
/// it, or starts here; Tests/LayeringTests fails on one whose handle is dropped.
public final class OwnedTasks: Sendable {
    private struct State {
        var running: [UInt64: Task<Void, Never>] = [:]
        var nextID: UInt64 = 0
        var isClosed = false
    }

    private let state = Mutex(State())

    public init() {}

    /// Tasks started and not yet returned.
    public var count: Int { state.withLock { $0.running.count } }

    /// Whether ``close()`` was called: new work is refused.
    public var isClosed: Bool { state.withLock { $0.isClosed } }

    /// Starts `operation` as a task this owner tracks, preferring `executorPreference` (nil: as
    /// `Task {}` does, the caller's preference if it has one). Returns false, and starts nothing,
    /// once the owner is closed.
    @discardableResult
    public func spawn(executorPreference: (any TaskExecutor)? = nil,
                      _ operation: @escaping @Sendable () async -> Void) -> Bool {
        start(executorPreference: executorPreference, operation) != nil
    }

    /// ``spawn(executorPreference:_:)``, returning the task's handle as well (for an owner that
    /// may cancel one task alone, such as a server connection whose client left); nil, and
    /// nothing started, once the owner is closed.
    public func start(executorPreference: (any TaskExecutor)? = nil,
                      _ operation: @escaping @Sendable () async -> Void) -> Task<Void, Never>? {
        state.withLock { state in
            guard !state.isClosed else { return nil }
            let id = state.nextID
            state.nextID += 1
            // Created while the lock is held, so the task's own `finished` (which takes the lock)
            // always finds it registered: it runs on another thread or later on this one.
            let task = Task(executorPreference: executorPreference) { [self] in
                await operation()
                finished(id)
            }
            state.running[id] = task
            return task
        }
    }

    /// Cancels every task still running; new tasks are still accepted.
    public func cancelAll() {
        for task in state.withLock({ Array($0.running.values) }) { task.cancel() }
    }

    /// Refuses new tasks, cancels those running when `cancelling` (the default), and returns once
    /// every task started here has returned. Safe to call more than once and concurrently.
    public func close(cancelling: Bool = true) async {
        let running = state.withLock { state in
            state.isClosed = true
            return Array(state.running.values)
        }
        if cancelling { for task in running { task.cancel() } }
        for task in running { await task.value }
    }

    private func finished(_ id: UInt64) {
        _ = state.withLock { $0.running.removeValue(forKey: id) }
    }
}
