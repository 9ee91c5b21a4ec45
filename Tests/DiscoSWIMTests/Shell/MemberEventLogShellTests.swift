import DiscoCore
import DiscoNet
import DiscoSWIM
import DiscoTestKit
import Testing

// MARK: - Membership changes in the log

@Suite struct MemberEventLogShellTests {
    /// Info-level lines naming the member (how operators learn, from the log at its default
    /// level, when gossip declared a node dead).
    static func lines(_ logs: RecordingLogHandler, _ message: String, member: NodeID) -> [LogRecord] {
        logs.records(at: .info, containing: message).filter { $0.metadata["member"]?.description == member.rawValue }
    }

    /// A member that joins, one that crashes and one that leaves are each logged at info level
    /// with the member's ID and address: joined, dead, left.
    @Test func joinsDeathsAndLeavesAreLoggedAtInfo() async throws {
        try await withShells { group in
            let logs = RecordingLogHandler()
            let observer = try await group.start("observer") { configuration in
                configuration.logger = Logger(label: "swim", level: .info, handler: logs)
            }
            let crashing = try await group.start("crashing")
            let leaving = try await group.start("leaving")
            try await crashing.join(seeds: [observer.address])
            try await leaving.join(seeds: [observer.address])
            try await waitUntil("both joins logged") {
                !Self.lines(logs, "member joined", member: crashing.id).isEmpty && !Self.lines(logs, "member joined", member: leaving.id).isEmpty
            }
            await crashing.shutdown()  // no leave: the others declare it dead
            try await waitUntil("the death logged", timeout: .seconds(120)) { !Self.lines(logs, "member dead", member: crashing.id).isEmpty }
            await leaving.leave()
            try await waitUntil("the leave logged", timeout: .seconds(60)) { !Self.lines(logs, "member left", member: leaving.id).isEmpty }
            let death = try #require(Self.lines(logs, "member dead", member: crashing.id).first)
            #expect(death.metadata["address"]?.description == "\(crashing.address)")
        }
    }
}
