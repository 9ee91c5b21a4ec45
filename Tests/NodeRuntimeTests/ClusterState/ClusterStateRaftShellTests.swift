import DiscoCore
import DiscoRaft
import DiscoTestKit
@testable import NodeRuntime
import Testing

@Suite("Cluster state machine under a real Raft node")
struct ClusterStateRaftShellTests {
    func startShell(_ directory: String, machine: ClusterStateMachine, logs: MemoryLogSink) async throws -> RaftNodeShell {
        var configuration = RaftShellConfiguration(id: "n1", dataDirectory: directory, addressBook: { _ in nil },
                                                   logger: memoryLogger(logs, label: "raft"))
        configuration.bootstrapVoters = ["n1"]
        configuration.tickInterval = .milliseconds(20)
        configuration.raft.snapshotThreshold = 16  // so the restart restores a snapshot and replays a tail
        let shell = try await RaftNodeShell.start(configuration, stateMachine: machine)
        try await waitUntil("n1 to lead") { shell.status.isLeader }
        return shell
    }

    @Test("proposed commands apply, and a restart on the same directory recovers the same state")
    func proposeAndRecover() async throws {
        let directory = ClusterTemporaryDirectory()
        defer { directory.cleanUp() }
        let logs = MemoryLogSink()
        let machine = ClusterStateMachine(logger: memoryLogger(logs))
        let shell = try await startShell(directory.path, machine: machine, logs: logs)
        do {
            let initIndex = try await shell.propose(ClusterCommand.initialize(cluster: "prod", epoch: 1).encode())
            #expect(machine.result(at: initIndex) == .initialized(cluster: "prod", epoch: 1))
            _ = try await shell.propose(ClusterCommand.upsertMember(member("n1", port: 4002)).encode())
            _ = try await shell.propose(ClusterCommand.upsertMember(member("n2", port: 4012, voter: false)).encode())
            _ = try await shell.propose([0xFF, 0x00])  // undecodable: skipped, counted
            for value in 1...40 {
                let index = try await shell.propose(ClusterCommand.appendEvent(timeMillis: Int64(value), data: json(#"{"v":\#(value)}"#)).encode())
                #expect(machine.result(at: index) == .eventAppended(seq: UInt64(value)))
            }
            _ = try await shell.propose(ClusterCommand.removeMember("n2").encode())
            _ = try await shell.propose(ClusterCommand.initialize(cluster: "other", epoch: 2).encode())
        } catch {
            await shell.shutdown(transferLeadership: false)
            throw error
        }
        let before = machine.state
        #expect(before.lastSeq == 40)
        #expect(before.events.map(\.seq) == Array(1...40))
        #expect(before.sortedMembers == [member("n1", port: 4002)])
        #expect(before.cluster == "prod")
        #expect(machine.undecodableEntries == 1)
        #expect(shell.status.snapshotIndex > 0)
        await shell.shutdown(transferLeadership: false)

        let recovered = ClusterStateMachine(logger: memoryLogger(logs))
        let restarted = try await startShell(directory.path, machine: recovered, logs: logs)
        do {
            try await waitUntil("the recovered state to reach index \(before.appliedIndex)") {
                recovered.appliedIndex >= before.appliedIndex
            }
            #expect(recovered.state == before)
            #expect(recovered.state.events == before.events)
            #expect(recovered.members == before.sortedMembers)
            #expect(logs.lines.contains { $0.contains("restored cluster state") })

            // Sequence numbers continue densely after the restart.
            let index = try await restarted.propose(ClusterCommand.appendEvent(timeMillis: 41, data: json("41")).encode())
            #expect(recovered.result(at: index) == .eventAppended(seq: 41))
        } catch {
            await restarted.shutdown(transferLeadership: false)
            throw error
        }
        await restarted.shutdown(transferLeadership: false)
    }
}
