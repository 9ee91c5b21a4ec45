import Bootstrap
import DiscoCore
import DiscoTestKit
@testable import NodeRuntime
import Testing

// MARK: - Two -bootstrap-expect 2 voters that formed, then stopped

/// What the proposer-restart tests share: `p1` and `p2` formed one cluster, and the proposal
/// `p1` recorded is its own.
enum ProposerPair {
    /// Waits until both nodes report the same leader, reads `first`'s promise file (it must hold
    /// `p1`'s own proposal), then stops both nodes and returns the proposal.
    static func agreeThenStop(_ one: RunningNode, _ two: RunningNode, promiseOf first: TestNodeSetup) async throws -> Proposal {
        try await waitUntil("p1 and p2 to agree on a leader", timeout: .seconds(60)) {
            let leaders = [one.node.consensus.status.leader, two.node.consensus.status.leader]
            return leaders[0] != nil && leaders[0] == leaders[1]
        }
        let promise = try #require(try PromiseFile(path: first.configuration.dataDirectory + "/bootstrap-promise.json").load())
        #expect(promise.id.proposer == "p1")
        #expect(await two.stop() == nil)
        #expect(await one.stop() == nil)
        return promise
    }
}
