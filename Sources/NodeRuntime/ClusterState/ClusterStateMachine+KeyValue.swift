import DiscoCore
import Synchronization

// MARK: - Watching the key-value state

/// What a watch reports after its initial read.
public enum KVWatchEvent: Hashable, Sendable {
    /// One transaction's changes to the watched keys (a deletion has a nil value).
    case changed([KVChange])
    /// The whole state was replaced (a snapshot was installed): these are the watched keys now,
    /// as of log index `revision`. Earlier reads are void.
    case reset(entries: [KVEntry], revision: UInt64)
}

/// A consistent read of some keys and every later change to them: no change is missed or seen
/// twice between ``entries`` and ``changes`` (etcd: a range read at a revision, then a watch
/// from the next one).
public struct KVWatch: Sendable {
    /// The watched keys when the watch began, in name order.
    public let entries: [KVEntry]
    /// The log index the read reflects.
    public let revision: UInt64
    /// Later changes, in commit order, until the consumer stops iterating (or the store goes).
    public let changes: AsyncStream<KVWatchEvent>
}

/// One watch: its keys and where to send their changes.
struct KeyValueWatcher: Sendable {
    var namespace: String
    var prefix: String
    var continuation: AsyncStream<KVWatchEvent>.Continuation

    func matches(_ key: KVKey) -> Bool { key.namespace == namespace && key.name.hasPrefix(prefix) }
}

extension ClusterStateMachine.Guarded {
    /// Sends each watcher the changes to its keys. Called under `guarded`, which no termination
    /// or cancellation handler takes (see ``ClusterStateMachine/guarded``).
    func publish(_ changes: [KVChange]) {
        for watcher in keyValueWatchers.values {
            let matching = changes.filter { watcher.matches($0.key) }
            if !matching.isEmpty { watcher.continuation.yield(.changed(matching)) }
        }
    }

    /// Sends each watcher its keys after a restore.
    func publishReset() {
        for watcher in keyValueWatchers.values {
            watcher.continuation.yield(.reset(entries: state.keyValues.range(namespace: watcher.namespace, prefix: watcher.prefix),
                                              revision: state.appliedIndex))
        }
    }
}

extension ClusterStateMachine {
    /// The key's entry, if it exists.
    public func keyValue(_ key: KVKey) -> KVEntry? { guarded.withLock { $0.state.keyValues.entry(key) } }

    /// The keys of `namespace` whose names start with `prefix`, in name order, and the log index
    /// the read reflects.
    public func keyValues(namespace: String, prefix: String) -> (entries: [KVEntry], revision: UInt64) {
        guarded.withLock { ($0.state.keyValues.range(namespace: namespace, prefix: prefix), $0.state.appliedIndex) }
    }

    /// How many keys the store holds and their size in bytes.
    public var keyValueUsage: (keys: Int, bytes: Int) { guarded.withLock { ($0.state.keyValues.count, $0.state.keyValues.bytes) } }

    /// Reads the keys of `namespace` starting with `prefix` and follows their changes. Changes
    /// are buffered without limit until the consumer takes them.
    public func watchKeyValues(namespace: String, prefix: String) -> KVWatch {
        let (stream, continuation) = AsyncStream.makeStream(of: KVWatchEvent.self)
        let (id, entries, revision) = guarded.withLock { guarded in
            removeEndedSubscriptions(&guarded)
            guarded.nextSubscriberID += 1
            guarded.keyValueWatchers[guarded.nextSubscriberID] = KeyValueWatcher(namespace: namespace, prefix: prefix, continuation: continuation)
            return (guarded.nextSubscriberID, guarded.state.keyValues.range(namespace: namespace, prefix: prefix), guarded.state.appliedIndex)
        }
        // Runs under the consumer task's status lock while `apply` may be yielding to this very
        // task under `guarded`: taking `guarded` here would deadlock, so the watch is only
        // recorded as ended and removed by `guarded`'s next holder.
        continuation.onTermination = { [endedWatches] _ in endedWatches.record(id) }
        return KVWatch(entries: entries, revision: revision, changes: stream)
    }
}
