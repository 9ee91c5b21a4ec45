import Bootstrap
import DiscoCore
import DiscoNet
import DiscoTestKit
import Foundation
@testable import NodeRuntime
import Testing

// MARK: - A proposer that restarts after bootstrapping still vouches for its proposal

@Suite("Node: a restarted -bootstrap-expect proposer", .serialized)
struct ProposerRestartTests {
    /// Two voters form a cluster with `-bootstrap-expect 2`; both stop, and the proposer starts
    /// again alone, with its Raft state and its promise file. A promised node that has not heard
    /// from Raft yet asks the proposer what became of the proposal: the answer must be
    /// "bootstrapped". "abandoned" releases the promise, and that node (no Raft state of its own)
    /// is free to promise itself to another proposal, so a second cluster could form around it.
    @Test func theRestartedProposerAnswersBootstrapped() async throws {
        var first = try TestNodeSetup(id: "p1", prefix: "disco-proposer")
        var second = try TestNodeSetup(id: "p2", prefix: "disco-proposer")
        defer {
            first.removeDirectory()
            second.removeDirectory()
        }
        let targets = [PeerAddress(host: "127.0.0.1", port: first.httpPort), PeerAddress(host: "127.0.0.1", port: second.httpPort)]
        for index in [0, 1] {
            var setup = index == 0 ? first : second
            setup.configuration.formation.plan = .bootstrapExpect
            setup.configuration.formation.bootstrapExpect = 2
            setup.configuration.formation.join = targets
            if index == 0 { first = setup } else { second = setup }
        }
        let one = try await RunningNode.start(first.configuration)
        let two = try await RunningNode.start(second.configuration)
        let promise = try await ProposerPair.agreeThenStop(one, two, promiseOf: first)

        let restarted = try await RunningNode.start(first.configuration)
        let client = HTTPClient()
        let url = first.apiURL + "/bootstrap/status?" + BootstrapWire.statusQuery(promise.id)
        var answer = ""
        try await waitUntil("the restarted proposer to answer GET /bootstrap/status") {
            guard let response = try? await client.send(HTTPClientRequest(url: url)), response.status == 200 else { return false }
            answer = String(decoding: response.body, as: UTF8.self)
            return true
        }
        let status = try BootstrapWire.decodeStatus(status: 200, body: Array(answer.utf8))
        #expect(status == .bootstrapped, "the restarted proposer answered \(answer)")
        await client.shutdown()
        #expect(await restarted.stop() == nil)
    }
}
