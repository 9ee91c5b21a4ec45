import Synchronization

// MARK: - DNSCache

/// Keeps positive answers of another ``DNSQuerying`` for as long as their TTLs allow.
///
/// An answer lives for the smallest TTL among its answer and additional records (so glue does
/// not outlive itself); answers with a TTL of 0, error RCODEs and empty (NODATA) answers are
/// never kept, so a vanished name is noticed on the next lookup. Time comes from `now`, which
/// tests replace.
public final class DNSCache: DNSQuerying {
    private struct Entry {
        var message: DNSMessage
        var expires: ContinuousClock.Instant
    }

    private let base: any DNSQuerying
    private let now: @Sendable () -> ContinuousClock.Instant
    private let capacity: Int
    private let entries = Mutex<[DNSQuestion: Entry]>([:])

    /// - Parameters:
    ///   - capacity: at most this many answers are kept; when full, expired ones are dropped
    ///     first, then everything.
    public init(wrapping base: any DNSQuerying, capacity: Int = 256, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.base = base
        self.capacity = max(1, capacity)
        self.now = now
    }

    public var serverDescription: String { base.serverDescription }

    /// How many answers are held (expired ones included until they are replaced or dropped).
    public var count: Int { entries.withLock { $0.count } }

    public func exchange(_ question: DNSQuestion) async throws(DNSLookupError) -> DNSMessage {
        let current = now()
        if let cached = entries.withLock({ $0[question] }), current < cached.expires {
            return cached.message
        }
        let message = try await base.exchange(question)
        guard message.header.responseCode == .noError, !message.answers.isEmpty else {
            entries.withLock { _ = $0.removeValue(forKey: question) }
            return message
        }
        let ttl = (message.answers + message.additional).filter { $0.type != .opt }.map(\.ttl).min() ?? 0
        guard ttl > 0 else { return message }
        let expires = now() + .seconds(Int64(ttl))
        entries.withLock { entries in
            if entries.count >= capacity {
                entries = entries.filter { current < $0.value.expires }
                if entries.count >= capacity { entries.removeAll() }
            }
            entries[question] = Entry(message: message, expires: expires)
        }
        return message
    }
}
