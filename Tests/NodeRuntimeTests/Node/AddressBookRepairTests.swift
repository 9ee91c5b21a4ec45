import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Testing

// MARK: - A book that fell behind the committed records

@Suite("Node: the address book catches up with the committed member records")
struct AddressBookRepairTests {
    /// The leader's book loses a member's committed addresses (here: replaced by an unproven
    /// claim; in the field, a record change the book never saw). No record changes afterwards,
    /// so the change stream cannot repair it, and reconciliation leaves untrusted entries alone:
    /// only the periodic catch-up brings Raft's traffic back to the member's real address.
    @Test func aLeadersBookThatLostAMembersAddressGetsItBackFromTheRecord() async throws {
        let first = try TestNodeSetup(id: "b1", prefix: "disco-book-repair")
        var second = try TestNodeSetup(id: "b2", prefix: "disco-book-repair")
        defer {
            first.removeDirectory()
            second.removeDirectory()
        }
        second.joinAsNonVoter(of: first)
        let leader = try await RunningNode.start(first.configuration)
        try await waitUntil("b1 to lead") { leader.node.keyValues(namespace: "x").revision > 0 }
        let follower = try await RunningNode.start(second.configuration)
        let member = NodeID("b2")
        try await waitUntil("b2's record on b1") { leader.node.store.member(member) != nil }
        let recorded = try #require(leader.node.store.member(member))
        let real = try PeerAddress(parsing: recorded.raftAddress)

        let nowhere = PeerAddress(host: "127.0.0.1", port: 9)
        leader.node.book.forget(member)
        leader.node.book.learn(member, raftAddress: nowhere, apiAddress: nowhere, voter: false, source: .gossip)
        #expect(leader.node.book.raftAddress(member) == nowhere)

        // Gossip may put the real address back too, but only as an unproven observation: the
        // entry must come from the record.
        try await waitUntil("b1's book to have b2 at its recorded address again, from the record") {
            let entry = leader.node.book.entry(member)
            return entry?.raftAddress == real && entry?.source == .replicated
        }
        #expect(await follower.stop() == nil)
        #expect(await leader.stop() == nil)
    }
}
