@testable import DiscoRoles
import DiscoCore
import NodeRuntime
import Testing

// MARK: - Which report entries the host role deletes

@Suite struct ReportRetentionTests {
    let start = ContinuousClock.now
    let n4 = ClusterMember(id: "n4", raftAddress: "10.0.0.4:4002", apiAddress: "10.0.0.4:4001", voter: true)

    func entry(_ name: String, _ value: [UInt8], revision: UInt64) -> KVEntry {
        KVEntry(key: KVKey(ReportedMember.namespace, name), value: value, created: revision, revision: revision)
    }

    func left(revision: UInt64) -> KVEntry {
        entry("n4", ReportedMember(member: n4, left: true, raftIndex: revision - 1).encoded, revision: revision)
    }

    @Test func aLeftMembersEntryIsDueOnceItHasBeenSeenSoForTheRetention() {
        var retention = ReportRetention(retention: .seconds(3600))
        #expect(retention.due(entries: [left(revision: 9)], members: [], now: start).isEmpty)
        #expect(retention.waiting == 1)
        #expect(retention.due(entries: [left(revision: 9)], members: [], now: start + .seconds(3599)).isEmpty)
        #expect(retention.due(entries: [left(revision: 9)], members: [], now: start + .seconds(3600)) == [left(revision: 9)])
    }

    @Test func aChangedRevisionStartsTheRetentionAgain() {
        var retention = ReportRetention(retention: .seconds(3600))
        _ = retention.due(entries: [left(revision: 9)], members: [], now: start)
        #expect(retention.due(entries: [left(revision: 20)], members: [], now: start + .seconds(3600)).isEmpty)
        #expect(retention.due(entries: [left(revision: 20)], members: [], now: start + .seconds(7200)) == [left(revision: 20)])
    }

    @Test func onlyEntriesOfMembersThatAreGoneAndWhoseLeaveIsRecordedOrNeverReportedAreDeletable() {
        let present = ReportedMember(member: n4, left: false, raftIndex: 8).encoded
        #expect(ReportRetention.deletable(left(revision: 9), members: []))
        #expect(!ReportRetention.deletable(left(revision: 9), members: ["n4"]), "the member came back: its join is reported over the entry")
        #expect(!ReportRetention.deletable(entry("n4", present, revision: 9), members: []), "its leave is not recorded yet")
        #expect(ReportRetention.deletable(entry("n4", ReportedMember.pending, revision: 9), members: []))
        #expect(!ReportRetention.deletable(entry("n4", ReportedMember.pending, revision: 9), members: ["n4"]))
        #expect(!ReportRetention.deletable(KVEntry(key: KVKey("other", "n4"), value: [], created: 1, revision: 1), members: []))
    }

    @Test func anEntryDeletedOrBackInTheMembersIsForgotten() {
        var retention = ReportRetention(retention: .seconds(3600))
        _ = retention.due(entries: [left(revision: 9)], members: [], now: start)
        _ = retention.due(entries: [left(revision: 9)], members: ["n4"], now: start + .seconds(10))
        #expect(retention.waiting == 0)
        #expect(retention.due(entries: [left(revision: 9)], members: [], now: start + .seconds(3600)).isEmpty)
    }
}
