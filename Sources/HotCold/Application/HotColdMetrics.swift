import DiscoCore
import LeaseCore
import Synchronization

// MARK: - HotColdMetrics

/// Counters of the lease shell, safe to read while it runs, rendered in Prometheus' text format
/// for `/metrics`.
public final class HotColdMetrics: Sendable {
    /// What a hook run came to.
    public enum HookResult: String, Sendable, CaseIterable {
        case succeeded, failed, timedOut = "timed_out", notStarted = "not_started"
    }

    /// What a renewal came to.
    public enum RenewalResult: String, Sendable, CaseIterable {
        case renewed, refused, unknown
    }

    private struct Counts {
        var becameHot = 0
        var suspensions = 0
        var becameCold: [String: Int] = [:]
        var hooks: [String: Int] = [:]
        var stateFileWrites = 0
        var stateFileFailures = 0
        var renewals: [RenewalResult: Int] = [:]
        var grantsProposed = 0
        var releasesProposed = 0
    }

    private let counts = Mutex(Counts())

    public init() {}

    // MARK: Recording

    func recordHot() { counts.withLock { $0.becameHot += 1 } }
    func recordSuspended() { counts.withLock { $0.suspensions += 1 } }
    func recordCold(_ reason: String) { counts.withLock { $0.becameCold[reason, default: 0] += 1 } }
    func recordHook(_ hook: String, _ result: HookResult) { counts.withLock { $0.hooks["\(hook)|\(result.rawValue)", default: 0] += 1 } }
    func recordStateFile(succeeded: Bool) {
        counts.withLock { succeeded ? ($0.stateFileWrites += 1) : ($0.stateFileFailures += 1) }
    }
    func recordRenewal(_ result: RenewalResult) { counts.withLock { $0.renewals[result, default: 0] += 1 } }
    func recordGrantProposed() { counts.withLock { $0.grantsProposed += 1 } }
    func recordReleaseProposed() { counts.withLock { $0.releasesProposed += 1 } }

    // MARK: Reading

    /// Times the replica became hot.
    public var hotTransitions: Int { counts.withLock { $0.becameHot } }
    /// Times the hot's renew deadline passed and it stopped acting without becoming cold.
    public var suspensions: Int { counts.withLock { $0.suspensions } }
    /// Times it became cold, by reason (`expired`, `unhealthy`, ...).
    public var coldTransitions: [String: Int] { counts.withLock { $0.becameCold } }
    /// Hook runs of `hook` (`on-hot`, `on-cold`) that came to `result`.
    public func hookRuns(_ hook: String, _ result: HookResult) -> Int { counts.withLock { $0.hooks["\(hook)|\(result.rawValue)"] ?? 0 } }
    /// State file writes that succeeded and failed.
    public var stateFileWrites: (succeeded: Int, failed: Int) { counts.withLock { ($0.stateFileWrites, $0.stateFileFailures) } }
    /// Renewals by result.
    public func renewals(_ result: RenewalResult) -> Int { counts.withLock { $0.renewals[result] ?? 0 } }
    /// Grants this node proposed as leader.
    public var grantsProposed: Int { counts.withLock { $0.grantsProposed } }

    /// The counters in Prometheus' text format, plus `status` as gauges.
    public func prometheusText(status: HotColdStatus) -> String {
        let snapshot = counts.withLock { $0 }
        // Group names may hold `"` and `\`, which the text format needs escaped in a label value.
        let name = status.group.rawValue.reduce(into: "") { escaped, character in
            if character == "\\" || character == "\"" { escaped.append("\\") }
            escaped.append(character)
        }
        let group = "group=\"\(name)\""
        var lines: [String] = []
        lines.append("# HELP disco_hot_cold_hot Whether this replica is hot (1) or cold (0).")
        lines.append("# TYPE disco_hot_cold_hot gauge")
        lines.append("disco_hot_cold_hot{\(group)} \(status.state == .hot ? 1 : 0)")
        lines.append("# HELP disco_hot_cold_token The group's latest fencing token as applied here.")
        lines.append("# TYPE disco_hot_cold_token gauge")
        lines.append("disco_hot_cold_token{\(group)} \(status.leaseToken)")
        lines.append("# HELP disco_hot_cold_transitions_total Changes of this replica's state, by new state and reason.")
        lines.append("# TYPE disco_hot_cold_transitions_total counter")
        lines.append("disco_hot_cold_transitions_total{\(group),state=\"hot\",reason=\"granted\"} \(snapshot.becameHot)")
        for (reason, count) in snapshot.becameCold.sorted(by: { $0.key < $1.key }) {
            lines.append("disco_hot_cold_transitions_total{\(group),state=\"cold\",reason=\"\(reason)\"} \(count)")
        }
        lines.append("# HELP disco_hot_cold_suspensions_total Times the hot stopped acting at its renew deadline and kept renewing.")
        lines.append("# TYPE disco_hot_cold_suspensions_total counter")
        lines.append("disco_hot_cold_suspensions_total{\(group)} \(snapshot.suspensions)")
        lines.append("# HELP disco_hot_cold_hooks_total Runs of -on-hot and -on-cold, by outcome.")
        lines.append("# TYPE disco_hot_cold_hooks_total counter")
        for (key, count) in snapshot.hooks.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "|", maxSplits: 1)
            lines.append("disco_hot_cold_hooks_total{\(group),hook=\"\(parts[0])\",outcome=\"\(parts.count > 1 ? parts[1] : "")\"} \(count)")
        }
        lines.append("# HELP disco_hot_cold_state_file_writes_total Writes of -hot-state-file, by result.")
        lines.append("# TYPE disco_hot_cold_state_file_writes_total counter")
        lines.append("disco_hot_cold_state_file_writes_total{\(group),result=\"ok\"} \(snapshot.stateFileWrites)")
        lines.append("disco_hot_cold_state_file_writes_total{\(group),result=\"error\"} \(snapshot.stateFileFailures)")
        lines.append("# HELP disco_hot_cold_renewals_total Lease renewals sent by this replica, by result.")
        lines.append("# TYPE disco_hot_cold_renewals_total counter")
        for result in RenewalResult.allCases {
            lines.append("disco_hot_cold_renewals_total{\(group),result=\"\(result.rawValue)\"} \(snapshot.renewals[result] ?? 0)")
        }
        lines.append("# HELP disco_hot_cold_grants_proposed_total Grants this node proposed while leading.")
        lines.append("# TYPE disco_hot_cold_grants_proposed_total counter")
        lines.append("disco_hot_cold_grants_proposed_total{\(group)} \(snapshot.grantsProposed)")
        lines.append("# HELP disco_hot_cold_releases_proposed_total Releases this replica proposed.")
        lines.append("# TYPE disco_hot_cold_releases_proposed_total counter")
        lines.append("disco_hot_cold_releases_proposed_total{\(group)} \(snapshot.releasesProposed)")
        return lines.joined(separator: "\n") + "\n"
    }
}
