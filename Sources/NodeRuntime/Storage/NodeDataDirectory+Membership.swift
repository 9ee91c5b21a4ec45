import DiscoCore
import DiscoSystem
import Foundation

// MARK: - The etcd membership record

/// With `-consensus etcd` the cluster's state lives in etcd, so nothing in the data directory
/// would say that this node ever belonged to a cluster: `etcd-member.json` does. It tells a
/// restarted member (which waits for etcd as long as it takes: exiting would take a member away)
/// from a first start (which gives up after `-bootstrap-expect-timeout`).
///
/// `{"state":"joining","key":…,"endpoints":[…],"cluster":…,"recorded_ms":…}` is written (file
/// and directory synced) before the node asks anyone to bootstrap or join the cluster under
/// `key`: etcd may accept it before the node hears so, and a node that crashed then may be a
/// member. `{"state":"member",…,"epoch":…,"cluster_revision":…,"cluster_id":…}` replaces it
/// once the node is part of the cluster: `cluster_revision` and `cluster_id` identify that
/// cluster (the `cluster` key's create revision and id), so a restart tells its removal while
/// stopped from a cluster created later under the same key. A record without `state` (written
/// before there were intents) is a member's.
extension NodeDataDirectory {
    /// Records that this node is part of the cluster under `key` (`/<disco-key>/`) in etcd,
    /// the incarnation `cluster` (nil: not known yet).
    func recordEtcdMembership(key: String, endpoints: [String], epoch: UInt64?, cluster: ExternalClusterIdentity? = nil) throws(DurableFile.Failure) {
        let record: JSONValue = [
            "state": .string(EtcdMembershipStanding.member.rawValue),
            "key": .string(key), "endpoints": .array(endpoints.map(JSONValue.string)),
            "epoch": epoch.map { .number(JSONNumber($0)) } ?? .null,
            "cluster_revision": cluster.map { .number(JSONNumber($0.revision)) } ?? .null,
            "cluster_id": cluster?.id.map(JSONValue.string) ?? .null,
            "recorded_ms": .number(JSONNumber(Int64(Date().timeIntervalSince1970 * 1000))),
        ]
        try DurableFile.replace(etcdMembershipPath, with: record.encodedBytes() + [0x0A])
    }

    /// The cluster a member's record under `key` names (nil: no member's record for `key`, or
    /// one without `cluster_revision`, as earlier versions and unreadable records are).
    func etcdMemberCluster(key: String) -> ExternalClusterIdentity? {
        guard etcdMembership(key: key) == .member, let bytes = FileManager.default.contents(atPath: etcdMembershipPath),
              let record = (try? JSONValue.parse(Array(bytes)))?.objectValue,
              let revision = record["cluster_revision"]?.numberValue?.int64Value else { return nil }
        return ExternalClusterIdentity(revision: revision, id: record["cluster_id"]?.stringValue)
    }

    /// Records, durably, that this node is about to ask to bootstrap or join the cluster named
    /// `cluster` under `key` in etcd: from now on it may be a member.
    func recordEtcdJoining(key: String, endpoints: [String], cluster: String) throws(DurableFile.Failure) {
        let record: JSONValue = [
            "state": .string(EtcdMembershipStanding.joining.rawValue),
            "key": .string(key), "endpoints": .array(endpoints.map(JSONValue.string)), "cluster": .string(cluster),
            "recorded_ms": .number(JSONNumber(Int64(Date().timeIntervalSince1970 * 1000))),
        ]
        try DurableFile.replace(etcdMembershipPath, with: record.encodedBytes() + [0x0A])
    }

    /// Deletes the record (etcd said this node is not a member), syncing the directory.
    func removeEtcdMembershipRecord() throws(DurableFile.Failure) {
        guard unlink(etcdMembershipPath) == 0 || errno == ENOENT else {
            throw DurableFile.Failure(path: etcdMembershipPath, operation: "unlink", errno: errno)
        }
        try DurableFile.syncDirectory(path)
    }

    /// What this data directory records about the node's membership of the cluster under `key`.
    /// A record of another key counts as none. An unreadable record counts as a member's, and
    /// a `state` this version does not know as an intent: waiting for etcd is the safe side.
    func etcdMembership(key: String) -> EtcdMembershipStanding {
        guard let bytes = FileManager.default.contents(atPath: etcdMembershipPath) else { return .none }
        guard let record = (try? JSONValue.parse(Array(bytes)))?.objectValue, let recorded = record["key"]?.stringValue else { return .member }
        guard recorded == key else { return .none }
        guard let state = record["state"] else { return .member }
        return state.stringValue.flatMap(EtcdMembershipStanding.init(rawValue:)) ?? .joining
    }

    /// Whether this node recorded that it is part of the cluster under `key` (an intent does not count).
    func recordsEtcdMembership(key: String) -> Bool { etcdMembership(key: key) == .member }
}

// MARK: - EtcdMembershipStanding

/// What `etcd-member.json` says about the cluster under the node's key.
enum EtcdMembershipStanding: String, Sendable {
    /// No record (or one of another key): a first start.
    case none
    /// The node asked to bootstrap or join and did not hear the outcome: it may be a member.
    case joining
    /// The node is part of the cluster.
    case member

    /// Whether a start with this record waits for etcd as long as it takes.
    var waitsForEtcd: Bool { self != .none }
}
