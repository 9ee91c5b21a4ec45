import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Synchronization
import Testing

/// `GET /readyz?sync` waits until the node has applied what the cluster committed (bounded by
/// `timeout=`), as rqlite's does: `sync` and `timeout=` used to be checked and then ignored, so
/// a member that had not caught up was ready at once.
@Suite struct ReadyzSyncTests {
    @Test func syncAnswers503WhileBehindNamingTheIndexesAnd200OnceCaughtUp() async throws {
        let setup = try TestNodeSetup(id: "rs1", prefix: "disco-readyz-sync")
        defer { setup.removeDirectory() }
        let lift = TargetLift()
        let running = try await RunningNode.start(setup.configuration, components: { context in
            var components = try await NodeComponents.embedded(context)
            components.consensus = InterposedConsensus(components.consensus, catchUpTarget: { max($0, lift.value) })
            return components
        })
        let client = HTTPClient()
        try await waitUntil("rs1 to be ready", timeout: .seconds(120)) {
            (try? await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz")))?.status == 200
        }
        // Caught up: `sync` answers 200.
        let caughtUp = try await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz?sync&timeout=60s"))
        #expect(caughtUp.status == 200, "\(caughtUp.bodyText)")

        // As on a member that heard the leader commit far beyond what it has applied.
        let target = running.node.consensus.status.lastIndex + 1000
        lift.set(target)
        let behind = try await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz?sync&timeout=100ms"))
        #expect(behind.status == 503, "\(behind.bodyText)")
        let body = try JSONValue.parse(behind.body)
        #expect(body["target_index"] == .number(JSONNumber(target)), "\(behind.bodyText)")
        let applied = body["applied_index"]?.numberValue?.uint64Value
        #expect(applied.map { $0 < target } ?? false, "\(behind.bodyText)")
        #expect(body["timeout"]?.stringValue == "100ms", "\(behind.bodyText)")
        #expect(body["error"]?.stringValue?.contains("did not reach the cluster's commit index \(target) within 100ms") ?? false,
                "\(behind.bodyText)")
        // Without `sync`, `timeout=` changes nothing.
        let plain = try await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz?timeout=100ms"))
        #expect(plain.status == 200, "\(plain.bodyText)")

        // The cluster commits one entry more than the node has: ready once it has applied it.
        lift.set(running.node.consensus.status.lastIndex + 1)
        _ = try await running.node.transact(KVTransaction(operations: [.put(KVKey("readyz-sync", "one"), Array("1".utf8))]))
        try await waitUntil("rs1 to be ready with sync once it applied the entry", timeout: .seconds(120)) {
            (try? await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz?sync&timeout=1s")))?.status == 200
        }
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    /// The log's last entries may change no state (a membership change, a new leader's empty
    /// entry): the state's revision stays below the commit index, and only the engine's applied
    /// index shows that they were applied.
    @Test func syncCountsAppliedEntriesThatChangeNoState() async throws {
        let setup = try TestNodeSetup(id: "rn1", prefix: "disco-readyz-sync")
        defer { setup.removeDirectory() }
        let running = try await RunningNode.start(setup.configuration)
        let client = HTTPClient()
        try await waitUntil("rn1 to be ready and to have written its records", timeout: .seconds(120)) {
            (try? await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz")))?.status == 200
                && running.node.store.epoch != nil && running.node.store.member("rn1") != nil
        }
        // A learner that never starts: a membership change as the last entry (another one if
        // a write of the node's own came after it).
        var added = 0
        var revision: UInt64 { running.node.keyValues(namespace: "", prefix: "\u{7F}").revision }
        repeat {
            added += 1
            try await running.node.consensus.addLearner(try #require(NodeID("rn-unstarted-\(added)")))
        } while revision >= running.node.consensus.status.commitIndex && added < 10
        let status = running.node.consensus.status
        #expect(revision < status.commitIndex, "a membership change is the last entry: \(status)")
        let answer = try await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz?sync&timeout=20s"))
        #expect(answer.status == 200, "\(answer.bodyText)")
        #expect(await running.stop() == nil)
        await client.shutdown()
    }

    /// A follower that joined reports the leader's commit index as its target, and `sync`
    /// answers 200 on it and on the leader once it has caught up.
    @Test func syncAnswers200OnACaughtUpLeaderAndFollower() async throws {
        let first = try TestNodeSetup(id: "rt1", prefix: "disco-readyz-sync")
        var second = try TestNodeSetup(id: "rt2", prefix: "disco-readyz-sync")
        defer { first.removeDirectory(); second.removeDirectory() }
        second.joinAsNonVoter(of: first)
        let leader = try await RunningNode.start(first.configuration)
        try await waitUntil("rt1 to lead", timeout: .seconds(120)) { leader.node.consensus.status.isLeader && leader.node.store.epoch != nil }
        let follower = try await RunningNode.start(second.configuration)
        let client = HTTPClient()
        for setup in [first, second] {
            try await waitUntil("\(setup.configuration.nodeID) to be ready with sync", timeout: .seconds(120)) {
                (try? await client.send(HTTPClientRequest(url: setup.apiURL + "/readyz?sync&timeout=2s")))?.status == 200
            }
        }
        let committed = leader.node.consensus.status.commitIndex
        try await waitUntil("rt2 to know the leader's commit index", timeout: .seconds(120)) {
            ((try? await follower.node.consensus.catchUpTarget()) ?? 0) >= committed
        }
        #expect(await follower.stop() == nil)
        #expect(await leader.stop() == nil)
        await client.shutdown()
    }
}

// MARK: - Support

/// A commit index the test sets, above the node's own.
final class TargetLift: Sendable {
    private let target = Mutex<UInt64>(0)

    func set(_ value: UInt64) { target.withLock { $0 = value } }
    var value: UInt64 { target.withLock { $0 } }
}
