import DiscoCore

// MARK: - LeaseSettings

/// The timing of a hot/cold lease, and the clock assumption that makes it safe.
///
/// **Assumption.** Every node measures time with a monotonic clock that keeps counting while the
/// process is paused or the machine is suspended (Linux `CLOCK_BOOTTIME`, which Swift's
/// `ContinuousClock` reads), and whose *rate* differs from real time by at most ``maxDrift``
/// (1 % by default; crystal oscillators and NTP slewing stay far below it). Clocks may have
/// any offset: no two nodes ever compare their readings. Processes may pause for any length of
/// time and messages may be delayed, lost or reordered.
///
/// **Rule.** A holder counts ``renewDeadline`` from the moment it *sent* a renewal that was then
/// applied; every other node counts ``ttl`` from the moment it *applied* the latest grant, renewal
/// or release, which is later. With rates within 1 ± ρ, the holder's belief ends at most
/// `renewDeadline / (1 − ρ)` of real time after its send, and no node can see `ttl` elapse
/// before `ttl / (1 + ρ)` of real time after its apply. So the holder stops acting before anyone
/// may grant the lease elsewhere when
///
///     renewDeadline < ttl × (1 − ρ) / (1 + ρ)
///
/// **Defaults.** ttl 500 ms, renew deadline 400 ms, renew period 100 ms, ρ = 1 %:
/// 500 ms × 0.99 / 1.01 = 490 ms > 400 ms, leaving 90 ms for scheduling and commit latency;
/// three renewals fit in a deadline. A Raft election (300–600 ms) can outlast the deadline: the
/// holder then *suspends* (stops acting, keeps renewing) and resumes with the same token when a
/// renewal commits through the new leader, which leaves a live holder the renew deadline to do
/// so before it grants elsewhere (``LeaseGrantor``). After `kill -9` of the hot, the Raft leader
/// may grant the lease elsewhere 500 ms after it applied the last renewal, which on average was
/// applied half a renewal period before the kill: fail-over ≈ 500 − 50 ms plus two commits
/// (grant, then the new holder's first renewal).
public struct LeaseSettings: Sendable, Hashable {
    /// How long after applying the latest grant, renewal or release (on its own clock) the Raft
    /// leader may grant the lease to another replica (`-lease-ttl`).
    public var ttl: Duration = .milliseconds(500)
    /// How long after sending a renewal that was applied (on its own clock) the holder may act
    /// as hot (`-lease-renew-deadline`).
    public var renewDeadline: Duration = .milliseconds(400)
    /// How often the holder sends a renewal (`-lease-renew`).
    public var renewPeriod: Duration = .milliseconds(100)
    /// The bound ρ on every clock's rate error, as a fraction (`-lease-max-drift`; 0.01 = 1 %).
    public var maxDrift: Double = 0.01

    /// client-go's factor: the renew deadline must exceed this many renew periods.
    public static let jitterFactor = 1.2
    /// The longest ttl accepted.
    public static let maximumTTL: Duration = .seconds(3600)
    /// The largest clock-rate error accepted.
    public static let maximumDrift = 0.2

    /// The defaults above.
    public init() {}

    /// Settings with the given values, validated.
    public init(ttl: Duration, renewDeadline: Duration, renewPeriod: Duration, maxDrift: Double = 0.01) throws(LeaseSettingsError) {
        self.ttl = ttl
        self.renewDeadline = renewDeadline
        self.renewPeriod = renewPeriod
        self.maxDrift = maxDrift
        try validate()
    }

    /// Settings taken as given, without validation: only for simulations that must show an
    /// unsafe setting being caught.
    public static func unchecked(ttl: Duration, renewDeadline: Duration, renewPeriod: Duration, maxDrift: Double) -> LeaseSettings {
        var settings = LeaseSettings()
        settings.ttl = ttl
        settings.renewDeadline = renewDeadline
        settings.renewPeriod = renewPeriod
        settings.maxDrift = maxDrift
        return settings
    }

    /// The renew deadline must stay below this: `ttl × (1 − ρ) / (1 + ρ)`.
    public var renewDeadlineLimit: Duration {
        let nanoseconds = Double(GoDuration.nanoseconds(of: ttl)) * (1 - maxDrift) / (1 + maxDrift)
        return .nanoseconds(Int64(nanoseconds.rounded(.down)))
    }

    /// How long after sending the latest applied renewal a suspended holder stays suspended
    /// before it becomes cold: `ttl × (1 − ρ) / (1 + ρ)` (before then nobody can have been
    /// granted) plus the renew deadline (the grace a newly elected leader gives a holder that
    /// did not die with the old leader). A Raft election shorter than that costs the hot no
    /// hot/cold change. Not a safety matter: a suspended holder does not act either way.
    public var suspensionLimit: Duration { renewDeadlineLimit + renewDeadline }

    /// How long the grantor waits before proposing the same grant again when it was neither
    /// applied nor refused (lost with a leader change).
    public var grantRetry: Duration { renewPeriod }
}

// MARK: - Flags

extension LeaseSettings {
    /// The command-line flags the settings come from (without the dash), named in errors.
    public enum Flag: String, Sendable, CaseIterable {
        case ttl = "lease-ttl"
        case renewDeadline = "lease-renew-deadline"
        case renewPeriod = "lease-renew"
        case maxDrift = "lease-max-drift"
    }
}
