import DiscoCore
import Synchronization

// MARK: - EtcdLeadership

/// Won leadership: the candidate's key and its create revision, which is the term and the
/// fencing value (it strictly increases from one leader to the next, and a write that compares
/// `create_revision(key) == revision` fails once the leadership is gone).
public struct EtcdLeadership: Sendable, Hashable {
    public var key: String
    public var revision: Int64
    public var lease: Int64

    /// A compare that holds only while this leadership does.
    public var fence: EtcdCompare { EtcdCompare(key, .createRevision(revision)) }
}

// MARK: - EtcdElection

/// etcd's election pattern: every candidate puts a key under the election prefix attached to
/// its own lease; the key with the lowest create revision leads; every other candidate waits
/// for the deletion of the key just ahead of it (no thundering herd), then checks again.
/// A leader whose lease is lost loses its key, and the next candidate takes over.
public struct EtcdElection: Sendable {
    public let client: EtcdClient
    /// Keys are `<prefix><lease in 16 hex digits>`.
    public let prefix: String

    public init(client: EtcdClient, prefix: String) {
        self.client = client
        self.prefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    /// The key a candidate with this lease uses.
    public func key(lease: Int64) -> String {
        let hex = String(UInt64(bitPattern: lease), radix: 16)
        return prefix + String(repeating: "0", count: max(0, 16 - hex.count)) + hex
    }

    /// Enters the election with `value` (the candidate's identity) under `keeper`'s lease and
    /// returns once this candidate leads. Throws when the lease is lost or etcd fails; cancel
    /// the task to stop waiting (the key stays until ``resign(_:)`` or the lease ends).
    public func campaign(value: [UInt8], keeper: EtcdLeaseKeeper) async throws(EtcdError) -> EtcdLeadership {
        guard let lease = keeper.leaseID else {
            throw EtcdError(.leaseLost(id: 0), endpoint: client.endpointList, operation: "campaign \(prefix)", message: "the candidate holds no valid lease")
        }
        let myKey = key(lease: lease)
        let result = try await client.txn(EtcdTxn(
            compare: [.absent(myKey)],
            success: [.put(key: myKey, value: value, lease: lease)],
            failure: [.get(key: myKey)]), operation: "campaign \(myKey)")
        var revision = result.revision
        if !result.succeeded, case .get(let existing)? = result.results.first, let mine = existing.first {
            revision = mine.createRevision
            if mine.value != value { try await client.put(myKey, value, lease: lease) }
        }
        let leadership = EtcdLeadership(key: myKey, revision: revision, lease: lease)
        try await waitForPredecessors(of: leadership, keeper: keeper)
        return leadership
    }

    /// Leaves the election (deletes the key) if the leadership is still this one.
    public func resign(_ leadership: EtcdLeadership) async throws(EtcdError) {
        _ = try await client.txn(EtcdTxn(compare: [leadership.fence], success: [.delete(key: leadership.key)]),
                                 operation: "resign \(leadership.key)")
    }

    /// The current leader's key (lowest create revision), or nil when nobody campaigns.
    public func leader() async throws(EtcdError) -> EtcdKeyValue? {
        try await client.oldest(under: prefix)
    }

    /// Whether `leadership` still stands in etcd (its key exists with the same create revision).
    public func stillLeads(_ leadership: EtcdLeadership) async throws(EtcdError) -> Bool {
        try await client.get(leadership.key)?.createRevision == leadership.revision
    }

    // MARK: Waiting

    private func waitForPredecessors(of leadership: EtcdLeadership, keeper: EtcdLeaseKeeper) async throws(EtcdError) {
        while true {
            try checkLease(keeper, leadership)
            let range = try await client.range(leadership.key, prefix: false)
            guard range.kvs.first?.createRevision == leadership.revision else {
                throw EtcdError(.leaseLost(id: leadership.lease), endpoint: client.endpointList, operation: "campaign \(leadership.key)",
                                message: "the candidate's key disappeared (its lease expired or it was deleted)")
            }
            guard let ahead = try await client.oldest(under: prefix, maxCreateRevision: leadership.revision - 1, newest: true) else {
                return
            }
            try await waitForDeletion(of: ahead.key, after: range.revision, keeper: keeper, leadership: leadership)
        }
    }

    private func waitForDeletion(of key: String, after revision: Int64, keeper: EtcdLeaseKeeper,
                                 leadership: EtcdLeadership) async throws(EtcdError) {
        let watch = EtcdWatch(client: client, prefix: key, from: revision + 1)
        defer { watch.close() }
        while true {
            try checkLease(keeper, leadership)
            let batch: EtcdWatchBatch
            do throws(EtcdError) {
                batch = try await watch.next()
            } catch {
                if Task.isCancelled { throw error }
                guard error.isTransient else { throw error }
                // The stream broke: the watch resumes where it stopped on the next call.
                do { try await Task.sleep(for: .milliseconds(200)) } catch { throw EtcdError(.unavailable, endpoint: client.endpointList, operation: "campaign", message: "cancelled") }
                continue
            }
            if batch.events.contains(where: { if case .delete(let deleted, _) = $0 { deleted == key } else { false } }) { return }
        }
    }

    private func checkLease(_ keeper: EtcdLeaseKeeper, _ leadership: EtcdLeadership) throws(EtcdError) {
        guard keeper.leaseID == leadership.lease else {
            throw EtcdError(.leaseLost(id: leadership.lease), endpoint: client.endpointList, operation: "campaign \(leadership.key)",
                            message: "the candidate's lease was lost while it waited")
        }
    }
}
