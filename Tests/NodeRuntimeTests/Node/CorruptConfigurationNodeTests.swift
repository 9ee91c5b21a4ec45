import DiscoCore
import DiscoNet
import DiscoRaft
import DiscoSystem
import DiscoTestKit
import Foundation
import NodeRuntime
import Synchronization
import Testing

// MARK: - A corrupt configuration entry stops the whole node

@Suite struct CorruptConfigurationNodeTests {
    /// A single-node cluster is sent, by a peer claiming a later term, an append whose
    /// configuration entry cannot be decoded: Raft halts, and the node stops with status 1 and
    /// an error that names the entry, instead of running on without it.
    @Test func nodeStopsWithTheError() async throws {
        let setup = try TestNodeSetup(id: "7", prefix: "disco-corrupt")
        defer { setup.removeDirectory() }
        let raft = setup.raftPort
        let engine = Mutex<(any ConsensusEngine)?>(nil)
        let factory: NodeComponents.Factory = { context in
            let components = try await NodeComponents.embedded(context)
            engine.withLock { $0 = components.consensus }
            return components
        }
        let logs = MemoryLogSink()
        let running = try await RunningNode.start(setup.configuration, logger: testLogger(.info, sink: logs), components: factory)
        let consensus = try #require(engine.withLock { $0 })
        try await waitUntil("the node to lead its single-node cluster") { consensus.status.isLeader }

        let target = PeerAddress(host: "127.0.0.1", port: raft)
        let peer = try await RaftTransport.start(localID: "z", addressBook: { $0 == "7" ? target : nil }, options: RaftTransportOptions(),
                                                 logger: Logger(label: "z", handler: LogfmtHandler(sink: MemoryLogSink()))) { _ in }
        // Every entry after the election is of the current term; until the node stops, append
        // right after its last entry (again, should a commit have moved past the first try).
        try await waitUntil("the node to stop on the corrupt entry") {
            let status = consensus.status
            guard !status.isStopped else { return true }
            let term = status.term + 5
            peer.send(Message(from: "z", to: "7", term: term, body: .append(AppendRequest(
                prevIndex: status.lastIndex, prevTerm: status.term,
                entries: [Entry(term: term, index: status.lastIndex + 1, kind: .config, data: [0xFF, 0x00])], commit: 0))))
            return false
        }
        let failure = await running.outcome() as? NodeFailure
        #expect(failure?.exitStatus == 1)
        #expect(failure?.message.contains("consensus stopped: configuration entry at index") == true, "\(String(describing: failure))")
        let reason = try #require(consensus.status.failure)
        #expect(reason.contains("from leader z cannot be decoded"), "\(reason)")
        #expect(logs.lines.contains { $0.contains("consensus stopped: configuration entry at index") }, "\(logs.lines.suffix(5))")
        await peer.close(flushing: false)
    }
}
