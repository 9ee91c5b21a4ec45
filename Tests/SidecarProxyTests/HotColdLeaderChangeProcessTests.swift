import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - Raft leader changes do not move the lease

/// Three `disco-sidecar -hot-cold` with the **default** lease (ttl 500 ms, renew deadline 400 ms,
/// shorter than a Raft election): Raft leadership moves away from the hot replica, then the
/// Raft leader that is not the hot is killed. Each time the hot may suspend acting while
/// renewals cannot commit, but it stays the same replica with the same token: no grant, no
/// hot/cold change, and the store sees one token throughout.
@Suite("disco-sidecar -hot-cold: Raft leader changes keep the hot", .serialized)
struct HotColdLeaderChangeProcessTests {
    static let defaultLease = ["-hot-cold", "-hot-cold-group", "orders", "-upstream-health-interval", "500ms"]

    /// This replica's cold transitions and suspensions, from its `/metrics`.
    static func counters(_ node: DiscodProcess) async -> (cold: Int, suspensions: Int)? {
        guard let answer = try? await node.request("GET", "/metrics", timeout: .seconds(5)), answer.status == 200 else { return nil }
        var cold = 0
        var suspensions = 0
        for line in answer.text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let value = line.split(separator: " ").last.flatMap({ Int($0) }) else { continue }
            if line.hasPrefix("disco_hot_cold_transitions_total"), line.contains("state=\"cold\"") { cold += value }
            if line.hasPrefix("disco_hot_cold_suspensions_total") { suspensions += value }
        }
        return (cold, suspensions)
    }

    /// The longest stretch between writes the store accepted from `start` on (the write pause).
    static func longestPause(_ store: FencedHTTPStore, since start: ContinuousClock.Instant) -> Duration {
        let times = store.accepted.map(\.at).filter { $0 >= start }.sorted()
        return zip(times, times.dropFirst()).map { $1 - $0 }.max() ?? .zero
    }

    /// Writes through sidecar `index` every 10 ms until cancelled.
    static func keepWriting(_ group: HotColdSidecarProcessTests.Group, via index: Int, label: String) async {
        var count = 0
        while !Task.isCancelled {
            count += 1
            _ = await group.write(via: index, "\(label)-\(count)")
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Runs `change` while a client writes through `index`; returns the longest write pause.
    static func whileWriting(_ group: HotColdSidecarProcessTests.Group, via index: Int, label: String,
                             _ change: () async throws -> Void) async throws -> Duration {
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { writers in
            writers.addTask { await keepWriting(group, via: index, label: label) }
            do {
                try await change()
            } catch {
                writers.cancelAll()
                throw error
            }
            writers.cancelAll()
        }
        return longestPause(group.store, since: start)
    }

    @Test func leadershipTransferAndLeaderKillKeepTheSameHotAndToken() async throws {
        try await HotColdSidecarProcessTests.withGroup("sidecar-hot-leader-change", leaseFlags: Self.defaultLease) { group in
            let nodes = group.nodes
            let first = try await group.waitForHot(among: [0, 1, 2], above: 0)
            try await group.waitForWritesAccepted(through: [0, 1, 2], by: first.index, token: first.token, label: "first")
            let hotID = nodes[first.index].nodeID

            // Make the hot the Raft leader, then let it hand leadership to another voter.
            var leader = try await DiscodCluster.waitForLeader(nodes)
            if leader != hotID {
                let owner = try #require(nodes.first { $0.nodeID == leader })
                let moved = try await owner.request("POST", "/leader/transfer", body: "{\"id\":\"\(hotID)\"}")
                #expect(moved.status == 200, "\(moved.text)")
                try await DiscodCluster.waitUntil("\(hotID) to lead", watching: nodes) {
                    await nodes.asyncAllSatisfy { await $0.leaderID() == hotID }
                }
                leader = hotID
            }
            try await group.waitForWritesAccepted(through: [0, 1, 2], by: first.index, token: first.token, label: "hot-leads")
            let before = try #require(await Self.counters(nodes[first.index]))
            let cold = try #require([0, 1, 2].first { $0 != first.index })
            let transferPause = try await Self.whileWriting(group, via: cold, label: "transfer") {
                let answer = try await nodes[first.index].request("POST", "/leader/transfer")
                #expect(answer.status == 200, "\(answer.text)")
                try await DiscodCluster.waitUntil("a leader other than \(hotID)", watching: nodes) {
                    guard let now = await nodes[cold].leaderID(), now != hotID else { return false }
                    leader = now
                    return await nodes.asyncAllSatisfy { await $0.leaderID() == now }
                }
                try await group.waitForWritesAccepted(through: [0, 1, 2], by: first.index, token: first.token, label: "after-transfer")
            }
            let again = try await group.waitForHot(among: [0, 1, 2], above: 0)
            #expect(again.index == first.index && again.token == first.token, "the lease stayed where it was")
            let afterTransfer = try #require(await Self.counters(nodes[first.index]))
            #expect(afterTransfer.cold == before.cold, "the hot became cold during the leadership transfer")
            print("leadership transfer from the hot: longest write pause \(transferPause), suspensions \(afterTransfer.suspensions - before.suspensions)")

            // kill -9 of the Raft leader, which is not the hot.
            let victim = try #require(nodes.firstIndex { $0.nodeID == leader })
            #expect(victim != first.index)
            let survivors = [0, 1, 2].filter { $0 != victim }
            let writer = try #require(survivors.first { $0 != first.index })
            let killPause = try await Self.whileWriting(group, via: writer, label: "kill") {
                nodes[victim].process.send(SIGKILL)
                try await DiscodCluster.waitUntil("a new leader among the survivors", watching: survivors.map { nodes[$0] }) {
                    guard let now = await nodes[first.index].leaderID(), now != nodes[victim].nodeID else { return false }
                    return await nodes[writer].leaderID() == now
                }
                try await group.waitForWritesAccepted(through: survivors, by: first.index, token: first.token, label: "after-kill")
            }
            let afterKill = try #require(await Self.counters(nodes[first.index]))
            #expect(afterKill.cold == before.cold, "the hot became cold while the Raft leader was replaced")
            print("kill -9 of the Raft leader (not the hot): longest write pause \(killPause), "
                + "suspensions \(afterKill.suspensions - afterTransfer.suspensions)")

            // The store saw one token, from one replica, throughout.
            #expect(group.store.highestToken == first.token, "no grant: the lease never moved")
            #expect(group.store.violations.isEmpty, "\(group.store.violations)")
            #expect(Set(group.store.accepted.map(\.replica)) == ["r\(first.index + 1)"])
            let hot = try #require(await group.hot(writer))
            #expect(hot.id == hotID && hot.token == first.token)
        }
    }
}

extension Array where Element: Sendable {
    /// Whether `predicate` holds for every element, asked one at a time.
    func asyncAllSatisfy(_ predicate: (Element) async -> Bool) async -> Bool {
        for element in self where !(await predicate(element)) { return false }
        return true
    }
}
