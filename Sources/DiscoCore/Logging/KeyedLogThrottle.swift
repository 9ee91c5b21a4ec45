// MARK: - KeyedLogThrottle

/// Lets one log line per key through per `interval` and counts the ones held back, so a source
/// that repeats itself (a peer reconnecting in a loop with frames we refuse, a duplicate node ID
/// flapping, gossip from another cluster) cannot flood the log.
///
/// Pure: no clock is read; the caller passes the time as a duration since any fixed origin
/// (the same origin on every call).
///
/// A line may carry a `detail` (a refusal's reason): one whose detail differs from the key's
/// last logged one is logged at once, with the count held back under the old one. Callers
/// without details pass none, and only time lets their lines through.
///
/// Remembers at most `capacity` keys, so a flood of distinct keys cannot grow it: a new key
/// that finds it full first drops the keys last logged more than an interval ago, and if none
/// were, starts afresh (a line too many per forgotten key, never unbounded memory). A dropped
/// key's held-back count is lost.
public struct KeyedLogThrottle<Key: Hashable> {
    /// Shortest time between two lines about one key with one detail.
    public let interval: Duration
    /// Most keys remembered.
    public let capacity: Int
    private var entries: [Key: Entry] = [:]

    private struct Entry {
        var lastLogged: Duration
        var detail: String?
        var suppressed: Int
    }

    /// A throttle letting one line per key through per `interval`, remembering at most
    /// `capacity` keys (at least one).
    public init(interval: Duration, capacity: Int) {
        precondition(capacity > 0, "a KeyedLogThrottle remembers at least one key")
        self.interval = interval
        self.capacity = capacity
    }

    // MARK: Deciding

    /// Whether to log a line about `key` with `detail` at `now`; when true, `suppressed` tells
    /// how many lines about the key were held back since its last one.
    public mutating func shouldLog(_ key: Key, detail: String? = nil, at now: Duration) -> (log: Bool, suppressed: Int) {
        if let entry = entries[key], entry.detail == detail, now - entry.lastLogged < interval {
            entries[key]?.suppressed += 1
            return (false, 0)
        }
        if entries[key] == nil, entries.count >= capacity {
            entries = entries.filter { now - $0.value.lastLogged < interval }
            if entries.count >= capacity { entries.removeAll() }
        }
        let suppressed = entries[key]?.suppressed ?? 0
        entries[key] = Entry(lastLogged: now, detail: detail, suppressed: 0)
        return (true, suppressed)
    }

    // MARK: Inspecting

    /// How many keys it remembers now.
    public var trackedKeys: Int { entries.count }
}

extension KeyedLogThrottle: Sendable where Key: Sendable {}
