import DiscoCore
import DiscoSystem
import Foundation

// MARK: - The etcd membership record

/// With `-consensus etcd` the cluster's state lives in etcd, so nothing in the data directory
/// would say that this node ever belonged to a cluster: `etcd-member.json` does. Written once
/// the node is part of a cluster under a key, it tells a restarted member (which waits for etcd
/// as long as it takes: exiting would take a member away) from a first start (which gives up
/// after `-bootstrap-expect-timeout`).
extension NodeDataDirectory {
    /// Records that this node is part of the cluster under `key` (`/<disco-key>/`) in etcd.
    func recordEtcdMembership(key: String, endpoints: [String], epoch: UInt64?) throws(DurableFile.Failure) {
        let record: JSONValue = [
            "key": .string(key), "endpoints": .array(endpoints.map(JSONValue.string)),
            "epoch": epoch.map { .number(JSONNumber($0)) } ?? .null,
            "recorded_ms": .number(JSONNumber(Int64(Date().timeIntervalSince1970 * 1000))),
        ]
        try DurableFile.replace(etcdMembershipPath, with: record.encodedBytes() + [0x0A])
    }

    /// Whether this node recorded that it is part of the cluster under `key`. An unreadable
    /// record counts as one (waiting for etcd is the safe side); a record of another key does not.
    func recordsEtcdMembership(key: String) -> Bool {
        guard let bytes = FileManager.default.contents(atPath: etcdMembershipPath) else { return false }
        guard let recorded = (try? JSONValue.parse(Array(bytes)))?.objectValue?["key"]?.stringValue else { return true }
        return recorded == key
    }
}
