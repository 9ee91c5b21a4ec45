import DiscoCore
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - Duplicate node IDs on loopback: real UDP and TCP, OS-chosen ports

@Suite(.serialized) struct NodeIDConflictShellTests {
    static let message = "node ID conflict"

    /// Starts a shell whose log goes to `recorder`.
    func start(_ name: String, in group: ShellGroup, recorder: RecordingLogHandler,
               host: String = "127.0.0.1") async throws -> SWIM.Shell {
        try await group.start(name) { configuration in
            configuration.bindHost = host
            configuration.logger = Logger(label: "swim", level: .info, handler: recorder)
        }
    }

    /// Two live members with one ID and a third they both join: the duplicate is counted and
    /// logged at error level with the ID and both addresses, once per address however often
    /// the two outbid each other.
    @Test func duplicateIDIsCountedAndLoggedWithBothAddresses() async throws {
        try await withShells { group in
            let logs = RecordingLogHandler()
            let began = ContinuousClock.now
            let third = try await group.start("t")
            let first = try await start("dup", in: group, recorder: logs)
            let second = try await start("dup", in: group, recorder: logs)
            try await first.join(seeds: [third.address])
            try await second.join(seeds: [third.address])
            try await waitUntil("a node ID conflict to be counted", timeout: .seconds(120)) {
                await first.statistics.nodeIDConflicts + second.statistics.nodeIDConflicts > 0
            }
            try await waitUntil("the conflict to be logged") { !logs.records(at: .error, containing: Self.message).isEmpty }
            // The two keep outbidding each other: more reports follow, counted but not logged.
            try await waitUntil("four conflict reports", timeout: .seconds(120)) {
                await first.statistics.nodeIDConflicts + second.statistics.nodeIDConflicts >= 4
            }
            let lines = logs.records(at: .error, containing: Self.message)
            let addresses: Set = ["\(first.address)", "\(second.address)"]
            for line in lines {
                #expect(line.metadata["id"]?.description == "dup")
                let named: Set = [line.metadata["address"]?.description ?? "", line.metadata["other_address"]?.description ?? ""]
                #expect(named == addresses)
            }
            // Within the first minute, at most one line per reporting member and other address.
            if ContinuousClock.now - began < .seconds(55) { #expect(lines.count <= 2) }
        }
    }

    /// A member shut down without leaving and started again with its ID on a new port: the
    /// cluster moves to the new address and nobody reports a conflict, through several
    /// push-pull exchanges that carry the old address back to the new process.
    @Test func memberRestartedOnANewPortIsNotReported() async throws {
        try await withShells { group in
            let logs = RecordingLogHandler()
            let others = try await group.startJoined(2, prefix: "r")
            let old = try await start("moved", in: group, recorder: logs)
            try await old.join(seeds: [others[0].address])
            try await waitForConvergence(others + [old])
            await old.shutdown()
            // Another loopback address: certainly not the old one (a port may be handed out again).
            let restarted = try await start("moved", in: group, recorder: logs, host: "127.0.0.2")
            #expect(restarted.address != old.address)
            try await restarted.join(seeds: [others[1].address])
            try await waitUntil("both others to see the member alive at its new address", timeout: .seconds(60)) {
                for shell in others {
                    guard let member = await shell.member(restarted.id), member.status == .alive,
                        member.address == restarted.address
                    else { return false }
                }
                return true
            }
            // Full-state exchanges in both directions (every 5 s with the test settings) and a
            // few hundred probes and gossip datagrams after the move.
            let start = await restarted.statistics
            try await waitUntil("three more push-pulls and 200 datagrams at the restarted member", timeout: .seconds(120)) {
                let now = await restarted.statistics
                let exchanges = now.pushPullsCompleted + now.pushPullsAnswered - start.pushPullsCompleted - start.pushPullsAnswered
                return exchanges >= 3 && now.datagramsReceived - start.datagramsReceived >= 200
            }
            for shell in others + [restarted] { #expect(await shell.statistics.nodeIDConflicts == 0) }
            #expect(logs.records(at: .error, containing: Self.message).isEmpty)
        }
    }
}
