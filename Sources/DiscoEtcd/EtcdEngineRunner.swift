// MARK: - EtcdEngineRunner

/// Owns the one task that runs an ``EtcdConsensusLog`` (lease, campaign, watch): started by
/// ``init(_:)``, cancelled and awaited by ``stop()``. Nothing else starts tasks for the engine.
public final class EtcdEngineRunner: Sendable {
    public let log: EtcdConsensusLog
    private let task: Task<Void, Never>

    public init(_ log: EtcdConsensusLog) {
        self.log = log
        task = Task { await log.run() }
    }

    /// Stops the engine: proposals fail, the task ends, and (when `revokeLease`) the lease is
    /// revoked so the node's election key and member record disappear at once.
    public func stop(revokeLease: Bool) async {
        await log.stop(revokeLease: false)
        task.cancel()
        await task.value
        if revokeLease { await log.keeper.revoke() }
    }
}
