import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Testing

/// A rejoin (a join carrying the cluster's epoch) from a node the leader's configuration lacks is
/// answered 410 "removed" only once a quorum confirms the leader still leads: a leader cut off
/// from the rest may not know that a newer leader added the node.
@Suite struct RejoinRefusalTests {
    @Test func aLeaderCutOffFromItsQuorumDoesNotTellARejoinerItWasRemoved() async throws {
        var setups = try ["c1", "c2", "c3"].map { try TestNodeSetup(id: NodeID(stringLiteral: $0), prefix: "disco-rejoin-refusal") }
        defer { setups.forEach { $0.removeDirectory() } }
        // A long election timeout: the leader goes on believing it leads for 10 s after its
        // followers stop, however fast the machine runs (the answer is checked, not its timing).
        for index in setups.indices { setups[index].configuration.timing.electionTicks = 200 }
        for index in 1...2 {
            setups[index].configuration.formation.plan = .join
            setups[index].configuration.formation.join = [PeerAddress(host: "127.0.0.1", port: setups[0].httpPort)]
        }
        let leader = try await RunningNode.start(setups[0].configuration)
        try await waitUntil("c1 to lead", timeout: .seconds(120)) { leader.node.consensus.status.isLeader && leader.node.store.epoch != nil }
        let followers = [try await RunningNode.start(setups[1].configuration), try await RunningNode.start(setups[2].configuration)]
        try await waitUntil("three voters", timeout: .seconds(120)) { leader.node.consensus.status.voters.count == 3 }
        let epoch = try #require(leader.node.store.epoch)
        for follower in followers { _ = await follower.stop() }

        let client = HTTPClient()
        let body = #"{"id":"ghost","addr":"127.0.0.1:9","api_addr":"127.0.0.1:9","voter":false,"cluster":"disco","epoch":\#(epoch)}"#
        let answer = try await client.send(HTTPClientRequest(method: "POST", url: setups[0].apiURL + "/join", body: Array(body.utf8)),
                                           timeout: .seconds(120))
        #expect(answer.status != 410, "\(answer.status) \(answer.bodyText)")
        #expect(!leader.node.consensus.status.isLeader, "it was to answer once it found it no longer leads")
        _ = await leader.stop()
        await client.shutdown()
    }
}
