import DiscoCore
import DiscoLifecycle
import DiscoNet
import DiscoTestKit
@testable import NodeRuntime
import Testing

// MARK: - Stopping a node whose cluster lost its quorum

@Suite("Node: graceful stop without a quorum", .serialized)
struct QuorumLossStopTests {
    /// Writes one key each time it is asked to, recording how each write ended.
    struct Writer: Role {
        let name = "writer"
        let requests: AsyncStream<Void>
        let journal: Journal

        func run(_ context: RoleContext) async throws {
            _ = try await cancelOnGracefulShutdown { [requests, journal] in
                for await _ in requests {
                    journal.record("writing")
                    let key = KVKey("quorum", "written-by-role")
                    do {
                        _ = try await context.node.transact(KVTransaction(operations: [.put(key, Array("v".utf8))]))
                        journal.record("committed")
                    } catch {
                        journal.record((error as? ReplicatedStateError)?.code.rawValue ?? "\(error)")
                    }
                }
            }
        }
    }

    /// Two voters; the follower stops first, so the leader loses its quorum while one of its
    /// services (a role here, the reconciliation loop in the field) waits on a proposal that can
    /// never commit. The leader's graceful stop must still return: the waiting is cancelled with
    /// the service, and the proposal fails as unknown (it was appended, never committed).
    @Test func theLeaderOfATwoVoterClusterStopsAfterItsFollower() async throws {
        var first = try TestNodeSetup(id: "q1", prefix: "disco-quorum")
        var second = try TestNodeSetup(id: "q2", prefix: "disco-quorum")
        defer {
            first.removeDirectory()
            second.removeDirectory()
        }
        // Three seconds and more before the lonely leader steps down: the write below is appended
        // while it still leads, and stays pending until the stop.
        first.configuration.timing.electionTicks = 60
        second.configuration.timing.electionTicks = 60
        second.configuration.formation.plan = .join
        second.configuration.formation.join = [PeerAddress(host: "127.0.0.1", port: first.httpPort)]
        let journal = Journal()
        let (requests, ask) = AsyncStream.makeStream(of: Void.self)
        let leader = try await RunningNode.start(first.configuration, roles: [Writer(requests: requests, journal: journal)])
        try await waitUntil("q1 to lead") { leader.node.keyValues(namespace: "x").revision > 0 }
        let follower = try await RunningNode.start(second.configuration)
        let client = HTTPClient()
        defer { Task { await client.shutdown() } }
        try await waitUntil("q2 to be promoted to a voter", timeout: .seconds(60)) {
            leader.node.consensus.status.voters.sorted() == ["q1", "q2"] && leader.node.consensus.status.isLeader
        }
        #expect(await follower.stop() == nil)

        let lastIndex = leader.node.consensus.status.lastIndex
        ask.yield()
        try await waitUntil("the role's write to be appended on the leader") {
            journal.all == ["writing"] && leader.node.consensus.status.lastIndex > lastIndex
        }
        let stopped = try await outcome(of: "the leader's graceful stop to return", within: .seconds(60)) { await leader.stop() }
        let stopError = try stopped.get()
        #expect(stopError == nil, "\(String(describing: stopError))")
        // The write neither hung nor claimed success.
        #expect(journal.all == ["writing", ReplicatedStateError.Code.unknown.rawValue], "\(journal.all)")
    }
}
