import DiscoCore
import DiscoRaft
import DiscoTestKit
@testable import NodeRuntime
import Testing

@Suite("Cluster state larger than 64 MiB under a real Raft node")
struct ClusterStateLargeSnapshotTests {
    func startShell(_ directory: String, machine: ClusterStateMachine, logs: MemoryLogSink) async throws -> RaftNodeShell {
        var configuration = RaftShellConfiguration(id: "n1", dataDirectory: directory, addressBook: { _ in nil },
                                                   logger: memoryLogger(logs, label: "raft"))
        configuration.bootstrapVoters = ["n1"]
        configuration.tickInterval = .milliseconds(20)
        configuration.raft.snapshotThreshold = 16
        let shell = try await RaftNodeShell.start(configuration, stateMachine: machine)
        try await waitUntil("n1 to lead") { shell.status.isLeader }
        return shell
    }

    /// The default retention keeps 64 MiB of event data; with the events' own fields the state's
    /// snapshot is a little larger than that. The node must still restart from it.
    @Test("a snapshot of a full default event window survives a restart")
    func fullDefaultWindowRestarts() async throws {
        let directory = ClusterTemporaryDirectory()
        defer { directory.cleanUp() }
        let logs = MemoryLogSink()
        let machine = ClusterStateMachine(logger: memoryLogger(logs))
        let shell = try await startShell(directory.path, machine: machine, logs: logs)
        let event = json("\"" + String(repeating: "x", count: ClusterLimits.maxEventBytes - 2) + "\"")
        var lastEvent: UInt64 = 0
        do {
            for value in 1...64 {
                lastEvent = try await shell.propose(ClusterCommand.appendEvent(timeMillis: Int64(value), data: event).encode())
            }
            // Within the default retention: nothing would be trimmed.
            #expect(machine.trimPoint(for: .standard) == nil)
            // Entries that change nothing, so the next snapshot covers every event.
            for _ in 1...20 {
                _ = try await shell.propose(ClusterCommand.initialize(cluster: "c", epoch: 1).encode())
            }
            try await waitUntil("a snapshot covering the events") { shell.status.snapshotIndex >= lastEvent }
        } catch {
            await shell.shutdown(transferLeadership: false)
            throw error
        }
        let before = machine.state
        #expect(before.eventBytes == 64 << 20)
        await shell.shutdown(transferLeadership: false)

        let recovered = ClusterStateMachine(logger: memoryLogger(logs))
        let restarted = try await startShell(directory.path, machine: recovered, logs: logs)
        try await waitUntil("the recovered state to reach index \(before.appliedIndex)") { recovered.appliedIndex >= before.appliedIndex }
        #expect(recovered.state == before)
        await restarted.shutdown(transferLeadership: false)
    }
}
