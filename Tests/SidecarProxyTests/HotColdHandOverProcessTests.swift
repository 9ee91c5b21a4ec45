import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
import Testing

// MARK: - SIGTERM of the hot with a write in flight, as real processes

/// `SIGTERM` of the hot `disco-sidecar` while a write it passed to its service has not answered
/// yet: the hot stops admitting writes, waits for that one (within `-proxy-drain-timeout`), and
/// only then releases the lease.
///
/// The hot is made a Raft follower first, so what is tested is the lease's hand-over alone (a
/// stopping Raft leader also hands leadership over, before its roles stop).
@Suite("disco-sidecar -hot-cold: SIGTERM of the hot waits for its writes in flight", .serialized)
struct HotColdHandOverProcessTests {
    /// The hot replica once it is not the Raft leader (leadership is transferred away from it),
    /// with writes through every sidecar accepted by it.
    static func hotFollower(_ group: HotColdSidecarProcessTests.Group) async throws -> (index: Int, token: UInt64) {
        let nodes = group.nodes
        for attempt in 1...5 {
            let hot = try await group.waitForHot(among: [0, 1, 2], above: 0)
            try await group.waitForWritesAccepted(through: [0, 1, 2], by: hot.index, token: hot.token, label: "before-\(attempt)")
            let hotID = nodes[hot.index].nodeID
            guard try await DiscodCluster.waitForLeader(nodes) == hotID else { return hot }
            let answer = try await nodes[hot.index].request("POST", "/leader/transfer")
            #expect(answer.status == 200, "\(answer.text)")
            try await DiscodCluster.waitUntil("a leader other than \(hotID)", watching: nodes) {
                guard let now = await nodes[hot.index].leaderID(), now != hotID else { return false }
                return await nodes.asyncAllSatisfy { await $0.leaderID() == now }
            }
        }
        throw SidecarExited(description: "the hot replica led Raft again after five leadership transfers")
    }

    /// The slow write (its service answers after 2 s) is accepted with the old token, and every
    /// write with the successor's token reaches the store after it.
    @Test func aSlowWriteInFlightAtSIGTERMIsAcceptedBeforeTheSuccessorsFirstWrite() async throws {
        try await HotColdSidecarProcessTests.withGroup("sidecar-hot-drain", slowWriteDelay: .seconds(2)) { group in
            let first = try await Self.hotFollower(group)
            async let slow = group.write(via: first.index, "slow-in-flight")
            try await DiscodCluster.waitUntil("the slow write at the hot's service", watching: group.nodes) {
                group.store.arrived.contains("slow-in-flight")
            }
            group.nodes[first.index].process.send(SIGTERM)
            let survivors = [0, 1, 2].filter { $0 != first.index }
            let second = try await group.waitForHot(among: survivors, above: first.token)
            try await group.waitForWritesAccepted(through: survivors, by: second.index, token: second.token, label: "after-stop")
            let answer = await slow
            #expect(answer?.status == 200 && answer?.bodyText == "r\(first.index + 1) accepted token=\(first.token)",
                    "\(answer.map { "\($0.status) \($0.bodyText)" } ?? "no answer")")
            let writes = group.store.writes
            let slowDecided = try #require(writes.firstIndex { $0.body == "slow-in-flight" })
            let successorsFirst = try #require(writes.firstIndex { ($0.token ?? 0) > first.token })
            #expect(slowDecided < successorsFirst, "a write with the successor's token reached the store before the slow one")
            #expect(group.store.violations.isEmpty, "\(group.store.violations)")
            try await waitUntil("the stopped sidecar exited", timeout: .seconds(60)) { group.nodes[first.index].process.exitStatus != nil }
            #expect(group.nodes[first.index].process.exitStatus == 0)
        }
    }

    /// With `-proxy-drain-timeout 3s`, a write whose service takes 10 s does not hold the
    /// hand-over past the timeout: the successor writes no sooner than 3 s after the SIGTERM,
    /// the slow write's connection is closed by the drain (no 2xx), and the process exits 0.
    @Test func aWriteLongerThanTheDrainTimeoutIsCutOffAndTheHandOverGoesOn() async throws {
        try await HotColdSidecarProcessTests.withGroup("sidecar-hot-drain-bound", extraFlags: ["-proxy-drain-timeout", "3s"],
                                                       slowWriteDelay: .seconds(10)) { group in
            let first = try await Self.hotFollower(group)
            // The client waits longer than the service takes: a write the drain did not cut off
            // would come back 2xx rather than end unanswered at the client's own timeout.
            async let slow = group.write(via: first.index, "slow-past-the-bound", timeout: .seconds(60))
            try await DiscodCluster.waitUntil("the slow write at the hot's service", watching: group.nodes) {
                group.store.arrived.contains("slow-past-the-bound")
            }
            let signalled = ContinuousClock.now
            group.nodes[first.index].process.send(SIGTERM)
            let survivors = [0, 1, 2].filter { $0 != first.index }
            let second = try await group.waitForHot(among: survivors, above: first.token)
            try await group.waitForWritesAccepted(through: survivors, by: second.index, token: second.token, label: "after-stop")
            let successorsFirst = try #require(group.store.writes.first { ($0.token ?? 0) > first.token })
            #expect(successorsFirst.at >= signalled + .seconds(3), "the hot released before its drain timeout")
            let answer = await slow
            #expect(answer.map { !(200..<300).contains($0.status) } ?? true, "\(answer.map { "\($0.status) \($0.bodyText)" } ?? "no answer")")
            try await waitUntil("the stopped sidecar exited", timeout: .seconds(60)) { group.nodes[first.index].process.exitStatus != nil }
            #expect(group.nodes[first.index].process.exitStatus == 0)
            #expect(group.store.violations.isEmpty, "\(group.store.violations)")
        }
    }
}
