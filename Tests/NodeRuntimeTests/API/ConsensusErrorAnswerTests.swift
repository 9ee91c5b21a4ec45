import DiscoCore
@testable import DiscoNet
@testable import NodeRuntime
import Testing

// MARK: - What a write that consensus refused answers

/// A leader change is never reported as a shutdown: an entry a new leader replaced says it was
/// not committed and that retrying is safe; an entry whose leader stepped down before it
/// committed says the outcome is unknown; only a stopping node says it is shutting down.
@Suite struct ConsensusErrorAnswerTests {
    func answer(_ code: ConsensusError.Code, _ message: String) -> (status: Int, error: String) {
        let response = Node.response(for: ConsensusError(code, message))
        guard case .bytes(let bytes) = response.body.storage,
              let json = try? JSONValue.parse(bytes), let error = json["error"]?.stringValue else { return (response.status, "") }
        return (response.status, error)
    }

    @Test func anEntryANewLeaderReplacedWasNotCommittedAndIsSafeToRetry() {
        let (status, error) = answer(.notCommitted, "leadership changed, entry 7 was not committed (a new leader replaced it)")
        #expect(status == 503)
        #expect(error.hasPrefix("leadership changed, entry 7 was not committed"), "\(error)")
        #expect(error.contains("retrying is safe"), "\(error)")
        #expect(!error.contains("shutting down"), "\(error)")
    }

    @Test func anEntryWhoseLeaderSteppedDownHasAnUnknownOutcome() {
        let (status, error) = answer(.unknown, "n1 stopped leading before entry 7 of term 3 committed (it is follower in term 4)")
        #expect(status == 503)
        #expect(error.contains("outcome unknown (leadership changed)") && error.contains("check before retrying"), "\(error)")
        #expect(!error.contains("shutting down"), "\(error)")
    }

    @Test func onlyAStoppingNodeSaysItIsShuttingDown() {
        #expect(answer(.stopped, "the node is shutting down").error.contains("shutting down"))
        for code: ConsensusError.Code in [.notLeader, .busy, .notCommitted, .unknown, .cancelled, .failed, .invalid, .learnerBehind] {
            #expect(!answer(code, "x").error.contains("shutting down"), "\(code)")
        }
    }
}
