import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - A replica restarted without -hot-cold

/// Three `disco-sidecar -hot-cold` in group `orders`, n1 with the highest `-hot-priority`. n1 is
/// made hot (so its candidacy is committed), then restarted **without** `-hot-cold`: it runs
/// no replica any more, yet its last candidacy (healthy, priority 30) stays in the replicated
/// state and it is alive in gossip. Then the hot replica is killed.
///
/// The survivor that runs the role must get the lease with the very next token: no grant may go
/// to n1, which would never renew it (one ttl with no hot), and — when n1 leads Raft — the
/// survivor must not wait for n1 to grant (n1 runs no grantor; with its candidacy taken for a
/// replica's, nobody would ever grant).
@Suite("disco-sidecar -hot-cold: a replica restarted without -hot-cold", .serialized)
struct HotColdStaleCandidacyProcessTests {
    /// Whether every node in `nodes` has n1 alive in gossip and its member record without the
    /// `hot-cold` role (the leader committed the roles of its new start).
    static func everyoneSeesPlain(_ id: String, from nodes: [DiscodProcess]) async -> Bool {
        for node in nodes {
            guard let answer = try? await node.request("GET", "/nodes", timeout: .seconds(2)), answer.status == 200,
                  let row = answer.json?.arrayValue?.first(where: { $0["id"]?.stringValue == id }),
                  row["swim"]?.stringValue == "alive", let roles = row["roles"]?.arrayValue?.compactMap(\.stringValue),
                  roles.contains("sidecar"), !roles.contains("hot-cold") else { return false }
        }
        return true
    }

    /// Asks the Raft leader among `nodes` to hand leadership to `target`, and waits until all agree.
    static func makeLeader(_ target: String, among nodes: [DiscodProcess]) async throws {
        try await DiscodCluster.waitUntil("\(target) to lead", watching: nodes) {
            var leaders: Set<String?> = []
            for node in nodes { leaders.insert(await node.leaderID()) }
            guard leaders.count == 1, let agreed = leaders.first, let leader = agreed else { return false }
            if leader == target { return true }
            guard let owner = nodes.first(where: { $0.nodeID == leader }) else { return false }
            _ = try? await owner.request("POST", "/leader/transfer", body: "{\"id\":\"\(target)\"}", timeout: .seconds(10))
            return false
        }
    }

    @Test(arguments: [false, true])
    func theSurvivorGetsTheNextTokenNotTheReplicaWithoutTheRole(staleLeads: Bool) async throws {
        try await HotColdSidecarProcessTests.withGroup("sidecar-hot-stale", nodeFlags: { ["-hot-priority", "\(30 - 10 * $0)"] }) { group in
            let nodes = group.nodes
            // n1 hot: its candidacy is committed (a move is refused until the leader knows it).
            var first = try await group.waitForHot(among: [0, 1, 2], above: 0)
            if first.index != 0 {
                try await DiscodCluster.waitUntil("a move to n1 accepted", watching: nodes) {
                    (try? await nodes[first.index].request("POST", "/hot/move?to=n1"))?.status == 200
                }
                first = try await group.waitForHot(among: [0, 1, 2], above: first.token)
            }
            #expect(first.index == 0)

            // n1 stops (releasing the lease) and comes back without -hot-cold.
            _ = await nodes[0].terminate()
            let plain = try nodes[0].restarted(flags: Array(nodes[0].flags.prefix { $0 != "-hot-cold" }))
            let second = try await group.waitForHot(among: [1, 2], above: first.token)
            let all = [plain, nodes[1], nodes[2]]
            try await DiscodCluster.waitUntil("n1 alive without the hot-cold role, as every node sees it", watching: all) {
                await Self.everyoneSeesPlain("n1", from: all)
            }
            let hot = second.index
            let survivor = hot == 1 ? 2 : 1
            try await Self.makeLeader(staleLeads ? "n1" : nodes[survivor].nodeID, among: all)
            let before = try await group.waitForHot(among: [1, 2], above: first.token)
            #expect(before.index == hot, "a leadership transfer does not move the lease")

            // kill -9 of the hot: the survivor must be granted next, with the next token.
            nodes[hot].process.send(SIGKILL)
            let killed = ContinuousClock.now
            let survivorID = nodes[survivor].nodeID
            var holders: [String] = []
            var token: UInt64 = 0
            try await DiscodCluster.waitUntil("\(survivorID) hot", watching: [plain, nodes[survivor]]) {
                guard let seen = await group.hot(survivor), seen.token > before.token, let id = seen.id else { return false }
                if holders.last != id { holders.append(id) }
                token = seen.token
                return id == survivorID
            }
            print("n1 without -hot-cold (\(staleLeads ? "leading Raft" : "not leading")): \(survivorID) hot with token \(token) "
                + "\(ContinuousClock.now - killed) after the kill of the hot (token \(before.token)); holders seen: \(holders)")
            #expect(token == before.token + 1, "a grant went elsewhere (to n1, which runs no replica) before the survivor's: \(holders)")
            let next = (index: survivor, token: token)
            try await group.waitForWritesAccepted(through: [survivor], by: survivor, token: next.token, label: "after-kill")
            #expect(group.store.violations.isEmpty, "\(group.store.violations)")
            _ = await plain.terminate()
        }
    }
}
