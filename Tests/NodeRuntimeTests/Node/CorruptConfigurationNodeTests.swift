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
        // Until the node stops, append right after its last entry. The status does not say the
        // last entry's term, and a rejected append already moved the node to the sender's term
        // (its last entry stays of an earlier one), so every term up to the current is offered
        // as the previous entry's: exactly one matches and is accepted.
        try await waitUntil("the node to stop on the corrupt entry") {
            let status = consensus.status
            guard !status.isStopped else { return true }
            let term = status.term + 5
            for previousTerm in stride(from: status.term, through: max(1, status.term.saturatingSubtract(200)), by: -1) {
                peer.send(Message(from: "z", to: "7", term: term, body: .append(AppendRequest(
                    prevIndex: status.lastIndex, prevTerm: previousTerm,
                    entries: [Entry(term: term, index: status.lastIndex + 1, kind: .config, data: [0xFF, 0x00])], commit: 0))))
            }
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

private extension UInt64 {
    func saturatingSubtract(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}
