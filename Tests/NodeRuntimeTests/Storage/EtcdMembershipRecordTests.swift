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
}
