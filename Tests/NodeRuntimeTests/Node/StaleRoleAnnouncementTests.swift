import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Testing

/// A join describing an earlier start of a member (sent before its latest restart and delivered
/// late) is refused with 409 "the newer record stands"; the roles it announces must not stand
/// either: the leader commits the roles its address book holds for each member.
@Suite struct StaleRoleAnnouncementTests {
    @Test func aStaleJoinDoesNotBringBackTheRolesOfAnEarlierStart() async throws {
        let first = try TestNodeSetup(id: "r1", prefix: "disco-stale-join-roles")
        var second = try TestNodeSetup(id: "r2", prefix: "disco-stale-join-roles")
        defer {
            first.removeDirectory()
            second.removeDirectory()
        }
        second.configuration.cluster.roles = ["web"]
        second.joinAsNonVoter(of: first)
        let leader = try await RunningNode.start(first.configuration)
        try await waitUntil("r1 to lead", timeout: .seconds(120)) { leader.node.keyValues(namespace: "x").revision > 0 }
        let follower = try await RunningNode.start(second.configuration)
        try await waitUntil("r2's record with web on r1", timeout: .seconds(120)) {
            leader.node.store.member("r2")?.roles == ["web"] && leader.node.book.roles(of: "r2") == ["web"]
        }
        let record = try #require(leader.node.store.member("r2"))
        let epoch = try #require(leader.node.store.epoch)

        // The join of an earlier start: same addresses, an older generation, other roles.
        let stale = #"{"id":"r2","addr":"\#(record.raftAddress)","api_addr":"\#(record.apiAddress)","voter":false,"#
            + #""roles":["stale"],"generation":\#(record.generation - 1),"cluster":"\#(first.configuration.cluster.name)","epoch":\#(epoch)}"#
        let client = HTTPClient()
        let answer = try await client.send(HTTPClientRequest(method: "POST", url: first.apiURL + "/join", body: Array(stale.utf8)))
        #expect(answer.status == 409 && answer.bodyText.contains("the newer record stands"), "\(answer.status) \(answer.bodyText)")
        #expect(leader.node.book.roles(of: "r2") == ["web"])
        #expect(leader.node.store.member("r2")?.roles == ["web"])

        #expect(await follower.stop() == nil)
        #expect(await leader.stop() == nil)
        await client.shutdown()
    }
}
