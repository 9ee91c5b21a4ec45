import DiscoCore
@testable import NodeRuntime

// MARK: - An engine with a test's hooks in front of a real one

/// A consensus engine that forwards everything to `inner` (the embedded engine of a running test
/// node), except where a test interposes: the read-index rounds can be made to wait
/// (`beforeConfirmingLeadership`), the catch-up target of `/readyz?sync` rewritten
/// (`catchUpTarget`, given the inner engine's), and so can when the node last heard from its
/// leader (`leaderContact`, given the inner engine's).
final class InterposedConsensus: ConsensusEngine {
    let inner: any ConsensusEngine
    private let beforeConfirmingLeadership: (@Sendable () async -> Void)?
    private let rewriteCatchUpTarget: (@Sendable (UInt64) -> UInt64)?
    private let rewriteLeaderContact: (@Sendable (LeaderContact) -> LeaderContact)?

    init(_ inner: any ConsensusEngine, beforeConfirmingLeadership: (@Sendable () async -> Void)? = nil,
         catchUpTarget: (@Sendable (UInt64) -> UInt64)? = nil, leaderContact: (@Sendable (LeaderContact) -> LeaderContact)? = nil) {
        self.inner = inner
        self.beforeConfirmingLeadership = beforeConfirmingLeadership
        rewriteCatchUpTarget = catchUpTarget
        rewriteLeaderContact = leaderContact
    }

    // MARK: Interposed

    func confirmLeadership() async throws {
        await beforeConfirmingLeadership?()
        try await inner.confirmLeadership()
    }

    func catchUpTarget() async throws -> UInt64 {
        let target = try await inner.catchUpTarget()
        return rewriteCatchUpTarget?(target) ?? target
    }

    var status: ConsensusStatus {
        var status = inner.status
        if let rewriteLeaderContact { status.leaderContact = rewriteLeaderContact(status.leaderContact) }
        return status
    }

    // MARK: Forwarded

    var localID: NodeID { inner.localID }
    func bootstrap(voters: [NodeID]) async throws { try await inner.bootstrap(voters: voters) }
    func settleExistingState(within timeout: Duration) async { await inner.settleExistingState(within: timeout) }
    func propose(_ data: [UInt8]) async throws -> UInt64 { try await inner.propose(data) }
    func addLearner(_ id: NodeID) async throws { try await inner.addLearner(id) }
    func promote(_ id: NodeID) async throws { try await inner.promote(id) }
    func removeMember(_ id: NodeID) async throws { try await inner.removeMember(id) }
    func transferLeadership(to target: NodeID?) async throws -> NodeID { try await inner.transferLeadership(to: target) }
    func leadershipChanges() -> AsyncStream<ConsensusLeadership> { inner.leadershipChanges() }
    func shutdown(transferLeadership: Bool) async { await inner.shutdown(transferLeadership: transferLeadership) }
    var internodeCounters: InternodeCounters? { inner.internodeCounters }
    var externalState: ExternalStateStatus? { inner.externalState }
    func readExternalMembership() async -> Bool? { await inner.readExternalMembership() }
    func readExternalCluster() async -> ExternalMembershipReading? { await inner.readExternalCluster() }
}
