import DiscoCore
import DiscoTestKit
import RaftCore
import Testing

// MARK: - A leader that proposes its own removal

extension RaftTestCluster {
    /// Elects `leader`, has it propose its own removal and delivers one message at a time until
    /// the removal commits on it (it hands over then). Returns the removal's index.
    mutating func commitOwnRemoval(of leader: NodeID) throws -> UInt64 {
        elect(leader)
        tickAll(times: 1)
        #expect(leaders == [leader])
        let removalIndex = try with(leader) { try $0.proposeConfigChange(.remove(leader)) }
        while self[leader].commitIndex < removalIndex, !inFlight.isEmpty {
            deliverAll(maxMessages: 1)
        }
        #expect(self[leader].commitIndex >= removalIndex, "the removal committed")
        return removalIndex
    }
}
