import DiscoCore
import DiscoSystem
import LeaseCore

// MARK: - Hook invocations

/// One state change to tell the application about through `-on-hot` or `-on-cold`.
public struct HotColdHookInvocation: Hashable, Sendable {
    public var state: HotColdStatus.State
    public var token: UInt64
    /// Why the replica became cold (nil for `hot`).
    public var reason: LeaseHolder.ColdReason?
    public var group: LeaseGroup
    public var node: NodeID

    public init(state: HotColdStatus.State, token: UInt64, reason: LeaseHolder.ColdReason? = nil, group: LeaseGroup, node: NodeID) {
        self.state = state
        self.token = token
        self.reason = reason
        self.group = group
        self.node = node
    }

    /// The hook's flag name (`on-hot`, `on-cold`).
    public var hookName: String { state == .hot ? "on-hot" : "on-cold" }

    /// What the command finds in its environment: `DISCO_HOT_COLD_STATE` (`hot`/`cold`),
    /// `DISCO_FENCING_TOKEN`, `DISCO_HOT_COLD_GROUP`, `DISCO_NODE_ID`, and for `cold`
    /// `DISCO_HOT_COLD_REASON` (`expired`, `unhealthy`, `superseded`, `moved`, `stopping`).
    public var environment: [String: String] {
        var variables = [
            "DISCO_HOT_COLD_STATE": state.rawValue,
            "DISCO_FENCING_TOKEN": String(token),
            "DISCO_HOT_COLD_GROUP": group.rawValue,
            "DISCO_NODE_ID": node.rawValue,
        ]
        if let reason { variables["DISCO_HOT_COLD_REASON"] = reason.description }
        return variables
    }
}

// MARK: - HotColdHooks

/// Runs `-on-hot` and `-on-cold` (Patroni's callbacks): one at a time, in the order of the
/// changes, each through `/bin/sh -c` with a time limit. Outcomes are logged and counted; a hook
/// never delays the lease (the shell hands invocations over and goes on).
public struct HotColdHooks: Sendable {
    public let onHot: String?
    public let onCold: String?
    public let timeout: Duration
    let logger: Logger
    let metrics: HotColdMetrics

    public init(onHot: String?, onCold: String?, timeout: Duration, logger: Logger, metrics: HotColdMetrics) {
        self.onHot = onHot
        self.onCold = onCold
        self.timeout = timeout
        self.logger = logger
        self.metrics = metrics
    }

    /// Runs every invocation of `invocations` in order until the stream ends.
    func run(_ invocations: AsyncStream<HotColdHookInvocation>) async {
        for await invocation in invocations {
            await run(invocation)
        }
    }

    /// Runs the hook for one change, if one is configured.
    public func run(_ invocation: HotColdHookInvocation) async {
        guard let command = invocation.state == .hot ? onHot : onCold else { return }
        let started = ContinuousClock.now
        let outcome = await ShellCommand.run(command, environment: invocation.environment, timeout: timeout)
        let elapsed = ContinuousClock.now - started
        let metadata: Logger.Metadata = [
            "hook": "\(invocation.hookName)", "token": "\(invocation.token)", "group": "\(invocation.group)",
            "outcome": "\(outcome)", "duration": "\(GoDuration.format(elapsed))",
        ]
        switch outcome {
        case .exited(0):
            metrics.recordHook(invocation.hookName, .succeeded)
            logger.info("-\(invocation.hookName) hook finished", metadata: metadata)
        case .exited, .signaled:
            metrics.recordHook(invocation.hookName, .failed)
            logger.warning("-\(invocation.hookName) hook failed: \(outcome)", metadata: metadata)
        case .timedOut:
            metrics.recordHook(invocation.hookName, .timedOut)
            logger.warning("-\(invocation.hookName) hook \(outcome); raise -hot-cold-hook-timeout or make it faster", metadata: metadata)
        case .failedToStart:
            metrics.recordHook(invocation.hookName, .notStarted)
            logger.error("-\(invocation.hookName) hook \(outcome)", metadata: metadata)
        }
    }
}
