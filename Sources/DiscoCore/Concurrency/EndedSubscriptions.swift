import Synchronization

// MARK: - EndedSubscriptions

/// The ids of subscriptions (streams, waiters) whose consumers went away, recorded by their
/// `onTermination` or `onCancel` handlers and removed later by the subscriptions' owner.
///
/// Swift runs those handlers while it holds the cancelled task's status lock, and resuming a
/// task (yielding to the stream it waits on, resuming its continuation) takes that same lock. A
/// handler that took the owner's lock would therefore deadlock against an owner that yields or
/// resumes while holding it (owner lock → status lock on one thread, status lock → owner lock
/// on the other). So the handler records the id here instead, and the owner removes what
/// ``drain()`` returns while it holds its own lock.
///
/// The lock inside is a leaf: it is held only to append or take the ids, never while yielding,
/// resuming or taking another lock, so it can be taken under the owner's lock and under the
/// status lock alike.
public final class EndedSubscriptions<ID: Hashable & Sendable>: Sendable {
    private let ended = Mutex<[ID]>([])

    public init() {}

    /// Records that the subscription `id` ended. Safe from termination and cancellation handlers.
    public func record(_ id: ID) {
        ended.withLock { $0.append(id) }
    }

    /// The ids recorded since the last call, oldest first.
    public func drain() -> [ID] {
        ended.withLock { ids in
            defer { ids.removeAll() }
            return ids
        }
    }

    /// Removes every recorded subscription from `registry` (the owner calls this under its own lock).
    public func removeEnded<Value>(from registry: inout [ID: Value]) {
        for id in drain() { registry.removeValue(forKey: id) }
    }
}
