import DiscoCore
import Foundation
@testable import NodeRuntime
import Testing

// MARK: - etcd-member.json

/// The record that tells a restarted `-consensus etcd` member (which waits for etcd without
/// limit) from a first start (which gives up after `-bootstrap-expect-timeout`).
@Suite struct EtcdMembershipRecordTests {
    @Test func theRecordCountsForItsOwnKeyOnlyAndGoesWithARemovedNodesState() throws {
        let path = NSTemporaryDirectory() + "disco-etcd-member-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let directory = try NodeDataDirectory(path: path, nodeID: "n1")
        defer { directory.release() }
        #expect(!directory.recordsEtcdMembership(key: "/disco/"), "a fresh directory records no membership")

        try directory.recordEtcdMembership(key: "/disco/", endpoints: ["http://127.0.0.1:2379"], epoch: 7)
        #expect(directory.recordsEtcdMembership(key: "/disco/"))
        #expect(!directory.recordsEtcdMembership(key: "/other/"), "a record of another -disco-key is not this cluster's")
        let record = try JSONValue.parse(Array(try #require(FileManager.default.contents(atPath: directory.etcdMembershipPath))))
        #expect(record["epoch"]?.numberValue?.intValue == 7)
        #expect(record["endpoints"]?.arrayValue?.first?.stringValue == "http://127.0.0.1:2379")

        // An unreadable record counts: waiting for etcd is the side that never takes a member away.
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: directory.etcdMembershipPath))
        #expect(directory.recordsEtcdMembership(key: "/disco/"))

        // A removed node started again joins as a new member: its record goes with its old state.
        try directory.recordRemoval(["removed": true])
        try directory.setAsideRaftStateAfterRemoval()
        #expect(!directory.recordsEtcdMembership(key: "/disco/"))
    }

    /// The intent written before a bootstrap or join: it makes the node wait for etcd (it may be
    /// a member) without counting as a member's record, and a member's record replaces it.
    @Test func anIntentMayBeAMemberAndIsReplacedByTheMembersRecord() throws {
        let path = NSTemporaryDirectory() + "disco-etcd-intent-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let directory = try NodeDataDirectory(path: path, nodeID: "n1")
        defer { directory.release() }
        #expect(directory.etcdMembership(key: "/disco/") == .none)
        #expect(!EtcdMembershipStanding.none.waitsForEtcd)

        try directory.recordEtcdJoining(key: "/disco/", endpoints: ["http://127.0.0.1:2379"], cluster: "prod")
        #expect(directory.etcdMembership(key: "/disco/") == .joining)
        #expect(directory.etcdMembership(key: "/disco/").waitsForEtcd)
        #expect(!directory.recordsEtcdMembership(key: "/disco/"), "an intent is not a member's record")
        #expect(directory.etcdMembership(key: "/other/") == .none, "an intent for another -disco-key is not this cluster's")
        let intent = try JSONValue.parse(Array(try #require(FileManager.default.contents(atPath: directory.etcdMembershipPath))))
        #expect(intent["state"]?.stringValue == "joining")
        #expect(intent["key"]?.stringValue == "/disco/")
        #expect(intent["cluster"]?.stringValue == "prod")
        #expect(intent["endpoints"]?.arrayValue?.first?.stringValue == "http://127.0.0.1:2379")

        try directory.recordEtcdMembership(key: "/disco/", endpoints: ["http://127.0.0.1:2379"], epoch: 3)
        #expect(directory.etcdMembership(key: "/disco/") == .member)
        let member = try JSONValue.parse(Array(try #require(FileManager.default.contents(atPath: directory.etcdMembershipPath))))
        #expect(member["state"]?.stringValue == "member")
        #expect(member["epoch"]?.numberValue?.intValue == 3)

        try directory.removeEtcdMembershipRecord()
        #expect(directory.etcdMembership(key: "/disco/") == .none)
        try directory.removeEtcdMembershipRecord()  // removing none is no error
    }

    /// Records written before there were intents (no `state`) are members' records; a `state`
    /// this version does not know counts as an intent (waiting for etcd is the safe side).
    @Test func oldRecordsAndUnknownStatesStillLoad() throws {
        let path = NSTemporaryDirectory() + "disco-etcd-old-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let directory = try NodeDataDirectory(path: path, nodeID: "n1")
        defer { directory.release() }
        let file = URL(fileURLWithPath: directory.etcdMembershipPath)
        try Data(#"{"endpoints":["http://127.0.0.1:2379"],"epoch":null,"key":"/disco/","recorded_ms":1764000000000}"#.utf8).write(to: file)
        #expect(directory.etcdMembership(key: "/disco/") == .member)
        #expect(directory.recordsEtcdMembership(key: "/disco/"))
        #expect(directory.etcdMembership(key: "/other/") == .none)

        try Data(#"{"state":"leaving","key":"/disco/"}"#.utf8).write(to: file)
        #expect(directory.etcdMembership(key: "/disco/") == .joining)
        try Data(#"{"state":7,"key":"/disco/"}"#.utf8).write(to: file)
        #expect(directory.etcdMembership(key: "/disco/") == .joining)
        try Data(#"["not","an","object"]"#.utf8).write(to: file)
        #expect(directory.etcdMembership(key: "/disco/") == .member)
    }

    /// A member's record names the cluster it belongs to (the `cluster` key's create revision and
    /// id), so a restart tells its removal while stopped from a cluster created later under the
    /// same key; an intent, an old record and an unreadable one name none.
    @Test func aMembersRecordNamesItsClusterAndOnlyTheSameClusterMatches() throws {
        let path = NSTemporaryDirectory() + "disco-etcd-cluster-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let directory = try NodeDataDirectory(path: path, nodeID: "n1")
        defer { directory.release() }
        let cluster = ExternalClusterIdentity(revision: 12, id: "A1")
        try directory.recordEtcdMembership(key: "/disco/", endpoints: ["http://127.0.0.1:2379"], epoch: nil, cluster: cluster)
        #expect(directory.etcdMemberCluster(key: "/disco/") == cluster)
        #expect(directory.etcdMemberCluster(key: "/other/") == nil, "a record of another -disco-key names no cluster of this one")
        let record = try JSONValue.parse(Array(try #require(FileManager.default.contents(atPath: directory.etcdMembershipPath))))
        #expect(record["cluster_revision"]?.numberValue?.int64Value == 12)
        #expect(record["cluster_id"]?.stringValue == "A1")

        try directory.recordEtcdMembership(key: "/disco/", endpoints: [], epoch: nil)
        #expect(directory.etcdMemberCluster(key: "/disco/") == nil, "written before the identity was known")
        try directory.recordEtcdJoining(key: "/disco/", endpoints: [], cluster: "prod")
        #expect(directory.etcdMemberCluster(key: "/disco/") == nil, "an intent names no cluster it belongs to")
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: directory.etcdMembershipPath))
        #expect(directory.etcdMemberCluster(key: "/disco/") == nil)

        #expect(cluster.isSameCluster(as: ExternalClusterIdentity(revision: 12, id: "A1")))
        #expect(cluster.isSameCluster(as: ExternalClusterIdentity(revision: 12, id: nil)), "an unknown id does not tell them apart")
        #expect(!cluster.isSameCluster(as: ExternalClusterIdentity(revision: 12, id: "B2")), "etcd wiped: the same revision again, another id")
        #expect(!cluster.isSameCluster(as: ExternalClusterIdentity(revision: 40, id: "A1")))
    }

    /// A first start waiting for etcd names its limit as the flag is written (`2m0s`), not as
    /// Swift prints a Duration ("120.0 seconds").
    @Test func aFirstStartNamesItsTimeoutAsTheFlagIsWritten() {
        let external = ExternalStateStatus(system: "etcd", endpoints: ["http://127.0.0.1:2379"], key: "/disco/", lastError: nil, failedReads: 0)
        let detail = Node.waitDetail(external, standing: .none, limit: .seconds(120))
        #expect(detail.contains("a first start: it gives up after -bootstrap-expect-timeout 2m0s"), "\(detail)")
        #expect(!detail.contains("seconds"), "\(detail)")
    }
}
