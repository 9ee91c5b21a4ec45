import Synchronization

// MARK: - Decoded records of a store that keeps them encoded

/// The records of a store that keeps each key encoded with a revision (the cluster's replicated
/// key-value state: JSON with base64), decoded once: a request naming an `app_id` whose entry
/// has not changed since it was decoded gets the record decoded then, with no parse.
///
/// It adds no staleness: every lookup is given the entry the store holds at that moment, and a
/// kept record is used only when that entry is the one it was decoded from (the same revision
/// and the same bytes), so a key changed, revoked or re-added (a new revision) is decoded again
/// on the very next lookup, and a deleted one is forgotten there. Only records that exist are
/// kept (never an `app_id` the store does not hold, nor an entry that does not decode), at most
/// ``capacity`` of them: a new one beyond that replaces an arbitrary other.
///
/// Lookups come from the proxy's event-loop threads and from tasks at once: the records are
/// behind a `Mutex`, held only to find or keep one (decoding happens outside it).
public final class APIKeyRecordCache: Sendable {
    /// The default ``capacity``: a cluster's applications, with room to spare.
    public static let defaultCapacity = 4096

    /// Most records kept.
    public let capacity: Int

    /// A record with the entry it was decoded from.
    private struct Decoded: Sendable {
        let revision: UInt64
        let value: [UInt8]
        let record: APIKeyRecord
    }

    private let records = Mutex<[String: Decoded]>([:])

    /// - Parameter capacity: most records kept (at least 1).
    public init(capacity: Int = APIKeyRecordCache.defaultCapacity) {
        precondition(capacity >= 1, "an API-key record cache holds at least one record, not \(capacity)")
        self.capacity = capacity
    }

    /// The record of `appID`, whose entry in the store is now `entry` (nil: it has none, and
    /// any record kept for it is forgotten): the one kept for it when that entry is the one it
    /// was decoded from, else `decode(entry.value)`, kept when it decodes. Nil when there is no
    /// entry or it does not decode.
    public func record(appID: String, entry: (revision: UInt64, value: [UInt8])?,
                       decode: ([UInt8]) -> APIKeyRecord?) -> APIKeyRecord? {
        guard let entry else {
            records.withLock { _ = $0.removeValue(forKey: appID) }
            return nil
        }
        // The bytes too: an equal revision of another store (a node attached anew) cannot
        // pass for this one's. They are the store's own array, so this is mostly one identity check.
        let kept = records.withLock { records -> APIKeyRecord? in
            guard let decoded = records[appID], decoded.revision == entry.revision, decoded.value == entry.value else { return nil }
            return decoded.record
        }
        if let kept { return kept }
        guard let record = decode(entry.value) else {
            records.withLock { _ = $0.removeValue(forKey: appID) }
            return nil
        }
        let decoded = Decoded(revision: entry.revision, value: entry.value, record: record)
        records.withLock { records in
            // (A lookup that read an older entry may replace a newer one here: the next lookup
            // of the newer one then decodes it again. Nothing stale is ever answered.)
            if records[appID] == nil, records.count >= capacity { records.remove(at: records.startIndex) }
            records[appID] = decoded
        }
        return record
    }

    /// Forgets every record (the store was replaced).
    public func removeAll() { records.withLock { $0.removeAll() } }

    /// How many records are kept.
    public var count: Int { records.withLock { $0.count } }

    /// Whether a record of `appID` is kept.
    public func holds(appID: String) -> Bool { records.withLock { $0[appID] != nil } }
}
