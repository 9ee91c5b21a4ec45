import DiscoCore
import LeaseCore

// MARK: - HotColdConfiguration

/// How a replica takes part in a hot/cold group: plain values with documented defaults, checked
/// by ``validate()``. ``HotColdFlags`` builds one from the command line.
public struct HotColdConfiguration: Hashable, Sendable {
    /// Where a cold replica's reads go (`-hot-cold-reads`).
    public enum ColdReads: String, Hashable, Sendable, CaseIterable {
        /// Served by the replica's own upstream (stale reads allowed).
        case local
        /// Forwarded to the hot replica like writes.
        case hot
    }

    /// The group (`-hot-cold-group`, default `default`).
    public var group: LeaseGroup = .default
    /// Lease timing (`-lease-ttl`, `-lease-renew-deadline`, `-lease-renew`, `-lease-max-drift`).
    public var lease = LeaseSettings()
    /// Among eligible replicas the highest is granted (`-hot-priority`, default 0).
    public var priority = 0
    /// False for a replica that must never be hot (`-no-hot`).
    public var mayBeHot = true
    /// A JSON file rewritten atomically on every change (`-hot-state-file`).
    public var stateFile: String?
    /// Run through `/bin/sh -c` when the replica becomes hot (`-on-hot`).
    public var onHot: String?
    /// Run through `/bin/sh -c` when the replica becomes cold (`-on-cold`).
    public var onCold: String?
    /// A hook still running after this long is killed (`-hot-cold-hook-timeout`, default 30s).
    public var hookTimeout: Duration = .seconds(30)
    /// Where a cold replica's reads go (`-hot-cold-reads`, default `local`).
    public var coldReads: ColdReads = .local
    /// How long a graceful hand-over (a stop, or a move away from this replica) waits for the
    /// writes it already passed to its upstream to answer before it releases the lease; 0 does
    /// not wait. `disco-sidecar` sets it to `-proxy-drain-timeout` (default 10s).
    public var drainTimeout: Duration = .seconds(10)

    /// The largest `-hot-priority` magnitude accepted.
    public static let priorityLimit = 1_000_000

    /// The defaults above.
    public init() {}

    /// Checks every value; the error names the flag at fault and what would be right.
    public func validate() throws(HotColdConfigurationError) {
        do {
            try lease.validate()
        } catch {
            throw HotColdConfigurationError(flag: error.flag.rawValue, reason: error.reason)
        }
        guard abs(priority) <= Self.priorityLimit else {
            throw HotColdConfigurationError(
                flag: "hot-priority", reason: "\(priority) is out of range; use a number from -\(Self.priorityLimit) to \(Self.priorityLimit)")
        }
        guard hookTimeout > .zero else {
            throw HotColdConfigurationError(
                flag: "hot-cold-hook-timeout", reason: "\(GoDuration.format(hookTimeout)) must be above 0, e.g. 30s")
        }
        guard drainTimeout >= .zero else {
            throw HotColdConfigurationError(
                flag: "proxy-drain-timeout", reason: "\(GoDuration.format(drainTimeout)) must not be negative: give 0 (no waiting) or e.g. 10s")
        }
        for (flag, command) in [("on-hot", onHot), ("on-cold", onCold)] {
            if let command, command.allSatisfy(\.isWhitespace) {
                throw HotColdConfigurationError(flag: flag, reason: "the command is empty; give a shell command such as '/usr/local/bin/promote.sh'")
            }
        }
        if !mayBeHot, let onHot {
            throw HotColdConfigurationError(
                flag: "on-hot", reason: "-no-hot replicas are never hot, so \(onHot.debugDescription) would never run; drop one of the two")
        }
        if let stateFile, stateFile.isEmpty || stateFile.hasSuffix("/") {
            throw HotColdConfigurationError(
                flag: "hot-state-file", reason: "\(stateFile.debugDescription) is not a file path; give one such as /run/app/hot-cold.json")
        }
    }
}

// MARK: - HotColdConfigurationError

/// A hot/cold setting that cannot work: names the flag (without its dash) and what would be right.
public struct HotColdConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public let flag: String
    public let reason: String

    public init(flag: String, reason: String) {
        self.flag = flag
        self.reason = reason
    }

    public var description: String { "-\(flag): \(reason)" }
}
