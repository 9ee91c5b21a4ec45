import DiscoCore
import DiscoRaft
@testable import DiscoTestKit
import Testing

// MARK: - The simulator's checker catches violations

@Suite("Raft invariant checker")
struct RaftInvariantCheckerTests {
    func node(_ id: NodeID, terms: [UInt64]) throws -> RaftNode {
        var state = PersistentState.bootstrap(voters: ["n1", "n2", "n3"])
        for (offset, term) in terms.enumerated() {
            state.entries.append(Entry(term: term, index: UInt64(offset + 2), data: [UInt8(offset)]))
        }
        return try RaftNode(id: id, state: state, random: DeterministicRandom(seed: 1))
    }

    @Test("two leaders in one term are reported")
    func electionSafety() throws {
        var checker = RaftInvariantChecker()
        let core = try node("n1", terms: [])
        checker.leaderElected(node: 0, name: "n1", term: 4, core: core)
        checker.leaderElected(node: 1, name: "n2", term: 4, core: core)
        #expect(checker.violations.count == 1)
        #expect(checker.violations.first?.contains("election safety") == true)
    }

    @Test("different entries at the same index and term are reported")
    func logMatching() throws {
        var checker = RaftInvariantChecker()
        let core = try node("n1", terms: [2])
        checker.appended([Entry(term: 2, index: 2, data: [1])], name: "n1", core: core)
        checker.appended([Entry(term: 2, index: 2, data: [2])], name: "n2", core: core)
        #expect(checker.violations.first?.contains("log matching") == true)
    }

    @Test("applying different entries at one index is reported")
    func stateMachineSafety() {
        var checker = RaftInvariantChecker()
        _ = checker.applied(Entry(term: 1, index: 1, data: [1]), name: "n1", nodeTerm: 1, previousHash: 0)
        _ = checker.applied(Entry(term: 2, index: 1, data: [1]), name: "n2", nodeTerm: 2, previousHash: 0)
        #expect(checker.violations.first?.contains("state-machine safety") == true)
    }

    @Test("a leader missing a committed entry is reported")
    func leaderCompleteness() throws {
        var checker = RaftInvariantChecker()
        var hash: UInt64 = 0
        for (index, term) in [(1, 1), (2, 2), (3, 2)] as [(UInt64, UInt64)] {
            hash = checker.applied(Entry(term: term, index: index, data: [UInt8(index)]), name: "n1", nodeTerm: 2, previousHash: hash)
        }
        let stale = try node("n3", terms: [2])  // has index 2 but not 3
        checker.leaderElected(node: 2, name: "n3", term: 3, core: stale)
        #expect(checker.violations.first?.contains("leader completeness") == true)
    }

    @Test("a leader of an earlier term than the commit is not required to hold the entry")
    func completenessOnlyForLaterTerms() throws {
        var checker = RaftInvariantChecker()
        var hash: UInt64 = 0
        for (index, term) in [(1, 1), (2, 2), (3, 7)] as [(UInt64, UInt64)] {
            hash = checker.applied(Entry(term: term, index: index, data: [UInt8(index)]), name: "n1", nodeTerm: 7, previousHash: hash)
        }
        // A delayed vote can elect a term-6 leader after term 7 committed index 3: that is legal.
        checker.leaderElected(node: 2, name: "n3", term: 6, core: try node("n3", terms: [2]))
        #expect(checker.violations.isEmpty)
    }

    @Test("a stale ReadIndex answer is reported")
    func staleRead() {
        var checker = RaftInvariantChecker()
        checker.readServed(index: 4, appliedWhenAsked: 5, name: "n1")
        #expect(checker.violations.first?.contains("linearizable read") == true)
    }
}
