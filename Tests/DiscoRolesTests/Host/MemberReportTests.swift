@testable import DiscoRoles
import DiscoCore
import NodeRuntime
import Testing

// MARK: - Deciding what the host role reports

@Suite struct MemberReportTests {
    let member = ClusterMember(id: "n4", raftAddress: "10.0.0.4:4002", apiAddress: "10.0.0.4:4001", voter: true, roles: ["host"])

    @Test func aMemberNeverReportedJoinsAndTheEventNamesItForTheTargets() throws {
        let report = try #require(MemberReport.decide(current: member, asOf: 57, reported: nil))
        #expect(report.kind == .joined)
        #expect(report.event(targets: ["dns"]).encoded()
            == #"{"type":"member-joined","roles":["dns"],"member":{"id":"n4","addr":"10.0.0.4:4002","api_addr":"10.0.0.4:4001","roles":["host"]},"raft_index":57}"#)
        let target = try EventTarget(event: report.event(targets: ["dns"]))
        #expect(target.type == "member-joined" && target.isFor("dns") && !target.isFor("host"))
        #expect(report.reported == ReportedMember(member: member, left: false, raftIndex: 57))
    }

    @Test func aReportedMemberThatIsGoneLeavesAndOneThatMovedChangesAddress() throws {
        let reported = ReportedMember(member: member, left: false, raftIndex: 57)
        let left = try #require(MemberReport.decide(current: nil, asOf: 90, reported: reported))
        #expect(left.kind == .left && left.member == member)
        #expect(left.event(targets: ["dns", "audit"])["roles"] == ["audit", "dns"])
        #expect(left.reported.left)

        var moved = member
        moved.apiAddress = "10.0.0.44:4001"
        let change = try #require(MemberReport.decide(current: moved, asOf: 70, reported: reported))
        let event = change.event(targets: ["dns"])
        #expect(event["type"] == "member-address-changed")
        #expect(event["member"]?["api_addr"] == "10.0.0.44:4001" && event["previous"]?["api_addr"] == "10.0.0.4:4001")
    }

    /// A member restarted with other roles: consumers hold its roles from the member-joined
    /// event, so the change is reported (an address change, which carries the new roles, wins).
    @Test func aReportedMemberWithOtherRolesChangesRoles() throws {
        let reported = ReportedMember(member: member, left: false, raftIndex: 57)
        var other = member
        other.roles = ["host", "web"]
        let change = try #require(MemberReport.decide(current: other, asOf: 70, reported: reported))
        let event = change.event(targets: ["dns"])
        #expect(event["type"] == "member-roles-changed")
        #expect(event["member"]?["roles"] == ["host", "web"] && event["previous"]?["roles"] == ["host"])
        #expect(change.reported == ReportedMember(member: other, left: false, raftIndex: 70))
        #expect(MemberReport.decide(current: other, asOf: 80, reported: change.reported) == nil)

        other.apiAddress = "10.0.0.44:4001"
        let both = try #require(MemberReport.decide(current: other, asOf: 70, reported: reported))
        #expect(both.kind == .addressChanged && both.member.roles == ["host", "web"] && both.previous?.roles == ["host"])
    }

    @Test func nothingIsReportedTwiceNorUndoneByAnOlderView() {
        let reported = ReportedMember(member: member, left: false, raftIndex: 57)
        #expect(MemberReport.decide(current: member, asOf: 80, reported: reported) == nil)
        var promoted = member
        promoted.voter = false
        #expect(MemberReport.decide(current: promoted, asOf: 80, reported: reported) == nil)
        // A host node still applying older entries must not report an older address again.
        var old = member
        old.apiAddress = "10.0.0.40:4001"
        #expect(MemberReport.decide(current: old, asOf: 50, reported: reported) == nil)
        #expect(MemberReport.decide(current: nil, asOf: 57, reported: reported) == nil)
        #expect(MemberReport.decide(current: nil, asOf: 90, reported: nil) == nil)
    }

    @Test func aMemberThatLeftAndComesBackJoinsAgainUnderANewKey() throws {
        let gone = ReportedMember(member: member, left: true, raftIndex: 90)
        #expect(MemberReport.decide(current: nil, asOf: 95, reported: gone) == nil)
        let back = try #require(MemberReport.decide(current: member, asOf: 100, reported: gone))
        #expect(back.kind == .joined)
        #expect(MemberReport.idempotencyKey(member: "n4", after: 0) != MemberReport.idempotencyKey(member: "n4", after: 12))
        #expect(MemberReport.idempotencyKey(member: "n4", after: 12) == "host-role-n4-r12")
    }

    @Test func idempotencyKeysAreValidForEveryNodeID() throws {
        for raw in ["n4", String(repeating: "x", count: 256), "nœud-4"] {
            let id = try #require(NodeID(raw))
            let key = MemberReport.idempotencyKey(member: id, after: UInt64.max)
            #expect(IdempotencyWindow.problem(with: key) == nil, "\(key)")
        }
        let long = try #require(NodeID(String(repeating: "x", count: 256)))
        let other = try #require(NodeID(String(repeating: "x", count: 255) + "y"))
        #expect(MemberReport.idempotencyKey(member: long, after: 1) != MemberReport.idempotencyKey(member: other, after: 1))
    }

    @Test func reportsSurviveTheirStoredFormAndGarbageIsNoReport() throws {
        let reported = ReportedMember(member: member, left: true, raftIndex: 90)
        let decoded = try #require(ReportedMember(decoding: reported.encoded))
        #expect(decoded.member.id == member.id && decoded.member.apiAddress == member.apiAddress && decoded.member.roles == ["host"])
        #expect(decoded.left && decoded.raftIndex == 90)
        #expect(ReportedMember(decoding: Array("{}".utf8)) == nil)
        #expect(ReportedMember(decoding: [0xFF, 0x00]) == nil)
    }
}
