import DiscoCore
import LeaseCore

// MARK: - LeaseScenario

/// What a lease simulation run does.
public enum LeaseScenario: String, Sendable, CaseIterable {
    /// Faults drawn from the seed for ``LeaseSimulationOptions/chaosDuration`` (crashes, graceful
    /// stops, pauses longer than the ttl, partitions one- and two-way, message loss, health
    /// failures, clock-rate changes, moves, a process replaced while the old one runs on cut off),
    /// then everything heals and someone must be hot.
    case chaos
    /// A quiet cluster; `kill -9` of the hot replica (not the Raft leader).
    case killHot
    /// A quiet cluster; `kill -9` of the hot replica while it is also the Raft leader.
    case killHotLeader
    /// A quiet cluster; `kill -9` of the Raft leader while another replica is hot.
    case killLeader
    /// A quiet cluster; the hot replica leads and hands Raft leadership to another replica.
    case transferFromHot
    /// A quiet cluster; the hot replica (not the Raft leader) is cut off and a new process with
    /// its node ID starts 20–300 ms later, while the old one runs on for 2 s (a StatefulSet pod
    /// force-deleted while its node is partitioned).
    case zombie
    /// A quiet cluster; the hot replica, one of its writes slow (up to twice the drain timeout
    /// on its way), is stopped gracefully or asked to move the lease to another replica: it
    /// waits for its writes in flight (at most ``LeaseSimulationOptions/drainTimeout``) before
    /// it releases, and no successor may be granted the lease meanwhile.
    case handOver
}

// MARK: - LeaseSimulationOptions

/// How one lease simulation seed runs.
public struct LeaseSimulationOptions: Sendable {
    public var seed: UInt64
    public var scenario: LeaseScenario
    /// The lease settings every replica uses (validated or not: unsafe settings must be caught).
    public var settings = LeaseSettings()
    /// The lease settings of the even-numbered replicas (r2, r4, …), as in a rolling change of
    /// `-lease-ttl` or a misconfiguration; nil: every replica uses ``settings``.
    public var otherSettings: LeaseSettings?
    /// The real bound on the simulated clocks' rate error (default: the settings' own
    /// ``LeaseSettings/maxDrift``; larger to show what happens when the assumption is broken).
    public var clockDrift: Double?
    /// Replicas in the group (every replica is also a Raft voter); nil: 3 or 5 from the seed.
    public var replicas: Int?
    /// How long faults are injected (``LeaseScenario/chaos``).
    public var chaosDuration: Duration = .seconds(10)
    /// After the faults heal, a replica must be hot and its write accepted within this bound…
    public var livenessBound: Duration = .seconds(6)
    /// …and then the same replica must stay hot, with no grant, for this long.
    public var stableDuration: Duration = .seconds(2)
    /// Notable events kept for a report.
    public var traceLimit = 80
    /// How long a holder handing the lease over waits at most for its writes in flight (the
    /// shell's `-proxy-drain-timeout`).
    public var drainTimeout: Duration = .seconds(1)
    /// Whether hand-overs release at once, ignoring the writes in flight (as the shell did before
    /// it waited): invariant 6 must then catch grants made while they are still on their way.
    public var ignoreWritesInFlight = false
    /// Whether invariant 2 (a hot replica's token is the committed one) is checked. Off, a run
    /// with unsafe settings goes on until two replicas believe they are hot at the same instant.
    public var checkHolderAgreesWithLog = true

    public init(seed: UInt64, scenario: LeaseScenario = .chaos) {
        self.seed = seed
        self.scenario = scenario
    }
}

// MARK: - LeaseSimulationResult

/// What a seed did.
public struct LeaseSimulationResult: Sendable {
    public var seed: UInt64
    public var scenario: LeaseScenario
    public var replicas: Int
    public var violations: [String]
    /// The last notable events before the end of the run (or the first violation).
    public var trace: [String]
    /// A hash of every notable event: equal for two runs of the same seed.
    public var traceHash: UInt64
    public var events: Int
    /// Grants committed (the highest token).
    public var grants: UInt64
    /// Writes the fenced backend accepted and rejected (rejected: a stale token, fenced off).
    public var acceptedWrites: Int
    public var rejectedWrites: Int
    /// Kill scenarios (and ``LeaseScenario/zombie``, ``LeaseScenario/handOver``): real time from
    /// the kill (cut-off, stop or move) to the first write accepted with a newer token.
    public var failover: Duration?
    /// ``LeaseScenario/killLeader``, ``LeaseScenario/transferFromHot``: whether the hot became
    /// cold (or the lease moved) while the Raft leader was replaced.
    public var hotSteppedDown: Bool
    /// Times a hot replica's renew deadline passed and it suspended acting.
    public var suspensions: Int
    /// Graceful hand-overs that waited for writes in flight, and how many of those waits the
    /// drain timeout ended.
    public var drains: Int
    public var drainTimeouts: Int
    public var virtualTime: Duration
}
