import DiscoCore
import DiscoTestKit
import Foundation
import Testing
@testable import Bootstrap

/// The proposer's own record of its proposal is what says, after a restart, that it bootstrapped
/// it (a node without a bootstrap engine answers "bootstrapped" only for a proposal its promise
/// file records): a proposal it could not record must not be sent, or it may bootstrap a
/// cluster it later disowns, releasing promised nodes into a second one.
@Suite(.serialized) struct ProposerPromiseFailureTests {
    @Test func aProposerThatCannotRecordItsProposalDoesNotBootstrapIt() async throws {
        let formation = try await LoopbackFormation(count: 2, expect: { _ in 2 })
        let proposer = try #require(formation.nodes.first { $0.peer.id == "node-1" })
        let promisePath = formation.directory.file("promise-node-1.json")
        // A directory where the promise file's temporary copy goes: every write of it fails.
        let obstacle = promisePath + ".tmp"
        try FileManager.default.createDirectory(atPath: obstacle, withIntermediateDirectories: true)
        let runs = formation.runAll()
        try await waitUntil("the proposer to fail to record a proposal for a few rounds, or to bootstrap", timeout: .seconds(60)) {
            if !formation.bootstraps.isEmpty { return true }
            let progress = proposer.shell.progress
            return progress.rounds >= 4 && (progress.lastError ?? "").contains("promise")
        }
        try FileManager.default.removeItem(atPath: obstacle)
        try await waitUntil("every node finished formation", timeout: .seconds(60)) {
            formation.nodes.allSatisfy { $0.shell.progress.outcome != nil }
        }
        for run in runs { _ = try await run.value }
        let bootstraps = formation.bootstraps
        #expect(bootstraps.count == 1, "bootstraps: \(bootstraps)")
        let recorded = try PromiseFile(path: promisePath).load()
        #expect(recorded?.id.proposer == "node-1" && recorded?.voters == bootstraps.first,
                "node-1 bootstrapped \(bootstraps) but its promise file records \(recorded.map { "\($0.id) \($0.voters)" } ?? "nothing")")
        await formation.shutdown()
    }
}
