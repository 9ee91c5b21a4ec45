import DiscoCore
import Foundation

// MARK: - Where a cluster's state lives in etcd

/// The keys of one cluster under `/<disco-key>/`:
///
/// | key | value |
/// |---|---|
/// | `cluster` | the cluster's identity, created once by bootstrap; every write compares its create revision (the epoch) |
/// | `config` | voters and learners, JSON; changed by compare-and-set on its mod revision |
/// | `seq` | the last log index; every append compares its mod revision, so indexes are gap-free |
/// | `log/<index, 20 digits>` | one entry of the replicated log |
/// | `snapshot` | the state as of an index (8 bytes big-endian) followed by the state; log keys up to it are deleted |
/// | `snapshot-chunks`, `snapshot-chunk/<index>/<n>` | instead of `snapshot` when it is larger than one etcd request allows: its size, index and chunk count, and the chunks |
/// | `election/<lease>` | candidates for leadership (etcd's election pattern), attached to their leases |
/// | `members/<id>` | each live node's record, attached to its lease, so a dead node's record expires |
/// | `transfer` | a leader's request to hand leadership to a named voter, attached to a lease of its own (its deadline) |
public struct EtcdClusterKeys: Sendable, Hashable {
    /// `/<disco-key>/`.
    public let root: String

    public init(discoKey: String) {
        let trimmed = discoKey.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        root = "/\(trimmed)/"
    }

    public var cluster: String { root + "cluster" }
    public var config: String { root + "config" }
    public var seq: String { root + "seq" }
    public var logPrefix: String { root + "log/" }
    public var snapshot: String { root + "snapshot" }
    public var snapshotManifest: String { root + "snapshot-chunks" }
    public var snapshotChunkPrefix: String { root + "snapshot-chunk/" }
    public var electionPrefix: String { root + "election/" }
    public var membersPrefix: String { root + "members/" }
    public var transfer: String { root + "transfer" }

    public func log(_ index: UInt64) -> String {
        let digits = String(index)
        return logPrefix + String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    public func member(_ id: NodeID) -> String { membersPrefix + id.rawValue }

    /// Chunk `number` of the snapshot at `index` (`number` nil: the prefix of that snapshot's chunks).
    public func snapshotChunk(_ index: UInt64, _ number: Int?) -> String {
        let base = String(log(index).dropFirst(logPrefix.count))
        guard let number else { return snapshotChunkPrefix + base + "/" }
        let digits = String(number)
        return snapshotChunkPrefix + base + "/" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// The index of a `log/` key, or nil for any other key.
    public func logIndex(_ key: String) -> UInt64? {
        guard key.hasPrefix(logPrefix) else { return nil }
        return UInt64(key.dropFirst(logPrefix.count))
    }

    /// The node of a `members/` key, or nil for any other key.
    public func memberID(_ key: String) -> NodeID? {
        guard key.hasPrefix(membersPrefix) else { return nil }
        return NodeID(String(key.dropFirst(membersPrefix.count)))
    }
}

// MARK: - Membership configuration

/// Voters and learners as stored in the `config` key: `{"voters":["1","2"],"learners":["3"]}`.
public struct EtcdMembershipConfig: Sendable, Hashable {
    public var voters: [NodeID]
    public var learners: [NodeID]

    public init(voters: [NodeID] = [], learners: [NodeID] = []) {
        self.voters = voters.sorted()
        self.learners = learners.sorted()
    }

    public var members: [NodeID] { voters + learners }

    public var bytes: [UInt8] {
        let object = ["voters": voters.map(\.rawValue), "learners": learners.map(\.rawValue)]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])).map(Array.init) ?? []
    }

    /// Decodes the stored value; nil when it is not a config.
    public init?(bytes: [UInt8]) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any],
              let voters = object["voters"] as? [String], let learners = object["learners"] as? [String] else { return nil }
        let voterIDs = voters.compactMap(NodeID.init)
        let learnerIDs = learners.compactMap(NodeID.init)
        guard voterIDs.count == voters.count, learnerIDs.count == learners.count else { return nil }
        self.init(voters: voterIDs, learners: learnerIDs)
    }
}

// MARK: - Snapshot value

/// `snapshot`'s value: the index it covers, then the state.
struct EtcdSnapshotValue: Sendable, Hashable {
    var index: UInt64
    var state: [UInt8]

    var bytes: [UInt8] { withUnsafeBytes(of: index.bigEndian, Array.init) + state }

    init(index: UInt64, state: [UInt8]) {
        self.index = index
        self.state = state
    }

    init?(bytes: [UInt8]) {
        guard bytes.count >= 8 else { return nil }
        index = bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        state = Array(bytes.dropFirst(8))
    }
}

// MARK: - Cluster identity

extension ExternalClusterIdentity {
    /// The identity of the `cluster` key as etcd holds it: its create revision (the epoch every
    /// write compares) and the random `id` its bootstrap wrote there (nil when the value holds
    /// none). A cluster bootstrapped again under the same key (etcd lost its data, or the keys
    /// were deleted) has another `id`, and almost always another revision.
    public init(clusterRecord kv: EtcdKeyValue) {
        let object = (try? JSONSerialization.jsonObject(with: Data(kv.value))) as? [String: Any]
        self.init(revision: kv.createRevision, id: object?["id"] as? String)
    }
}
