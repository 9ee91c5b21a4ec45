import DiscoCore
import DiscoSWIM

// MARK: - Scenario report

/// What one seeded scenario did and whether the SWIM properties held.
public struct SWIMScenarioReport: Sendable {
    public let seed: UInt64
    public let members: Int
    public let kind: SWIMScenario.Kind
    public let lossRate: Double
    /// Property violations; empty when the run was correct.
    public internal(set) var violations: [String] = []
    /// Everything that happened that matters (faults, member events), in order.
    public internal(set) var trace: [String] = []
    /// A digest of the trace and traffic; equal for equal runs.
    public internal(set) var digest: UInt64 = 0xCBF2_9CE4_8422_2325
    /// Time from the crash until the last live member declared the crashed member dead.
    public internal(set) var crashDetection: Duration?
    /// Protocol periods from the last start until every member knew every other.
    public internal(set) var initialJoinPeriods: Double?
    /// Protocol periods from a late join until every member knew the newcomer.
    public internal(set) var lateJoinPeriods: Double?
    /// Joins measured, and how many of them met the 2·ceil(log2 n)-period target.
    public internal(set) var joinsMeasured = 0
    public internal(set) var joinsWithinTarget = 0
    /// Time from healing a partition until everyone saw everyone alive again.
    public internal(set) var healConvergence: Duration?
    /// Same-side deaths while a partition (or its last suspicions) made gossip lossy.
    public internal(set) var partitionEraDeaths = 0
    /// Datagrams sent per member per protocol period.
    public internal(set) var messagesPerMemberPerPeriod: Double = 0

    mutating func log(_ time: Duration, _ line: String) {
        let text = "t=\(SWIMScenario.format(time)) \(line)"
        trace.append(text)
        for byte in text.utf8 { digest = (digest ^ UInt64(byte)) &* 0x100_0000_01B3 }
    }
}

// MARK: - Scenario

/// Seeded scenarios over a small SWIM cluster with loss (0, 2, 5 or 10 %: the tolerance the
/// no-false-positive property is checked at), 1 % duplication, 0.5–3 ms delay, a CPU-starved
/// member (300 ms stalls) and one of: a crash and restart, a partition and heal, or a graceful
/// leave and a late join. Properties are checked as the run goes.
public enum SWIMScenario {
    public enum Kind: String, Sendable, CaseIterable {
        case crashAndRestart = "crash+restart"
        case partitionAndHeal = "partition+heal"
        case leaveAndJoin = "leave+join"
    }

    /// Bounds derived from the settings and the cluster size `n` (see `bounds(...)`).
    public struct Bounds: Sendable, CustomStringConvertible {
        /// Dissemination goal for a join: 2·ceil(log2 n) protocol periods (measured, not enforced:
        /// gossip is probabilistic).
        public var joinTarget: Duration
        /// Every member knows every started member within this after the last start: the
        /// push-pull fallback (first exchange within 1.5 intervals of start) plus 1 s.
        public var join: Duration
        /// Every live member declares a crashed member dead within this after the crash.
        public var crashDetection: Duration
        /// Everyone sees everyone alive within this after a partition heals.
        public var heal: Duration
        /// Everyone sees a leaving member as left within this after `leave`.
        public var leave: Duration
        /// The longest a suspicion can last: β·α·max(1, log10 n)·T.
        public var maximumSuspicion: Duration

        public var description: String {
            "join target \(format(joinTarget)) s, join ≤ \(format(join)) s, crash detection ≤ \(format(crashDetection)) s, heal ≤ \(format(heal)) s, leave ≤ \(format(leave)) s"
        }
    }

    /// The bounds the properties are checked against:
    /// - crash detection: the worst round-robin wait (every live member probes the crashed one
    ///   within two passes, 2(n−1) periods, plus the period of the failing probe), with periods
    ///   allowed to stretch ×2 by Lifeguard under loss, plus the maximum suspicion timeout
    ///   β·α·max(1, log10 n)·T, plus 1 s for the "dead" news to spread;
    /// - join: gossip usually spreads a join within 2·ceil(log2 n) periods (the target); the
    ///   bound enforced is the push-pull fallback, 1.5 push-pull intervals plus 1 s;
    /// - heal: two reconnect intervals (one exchange makes both sides refute, the next carries
    ///   the refutations across), the maximum suspicion timeout, and 2 s of dissemination;
    /// - leave: a member that missed the news learns it when its own probe of the leaver fails
    ///   and its suspicion is answered with the newer "left": the crash-detection bound.
    public static func bounds(settings: SWIM.Settings, members n: Int) -> Bounds {
        let period = settings.probeInterval
        let minimumSuspicion = period.scaled(settings.suspicionMultiplier * max(1, log10(Double(n))))
        let maximumSuspicion = minimumSuspicion.scaled(settings.suspicionMaxTimeoutMultiplier)
        let log2n = Int(log2(Double(max(2, n))).rounded(.up))
        return Bounds(
            joinTarget: period * (2 * log2n),
            join: settings.pushPullInterval.scaled(1.5) + .seconds(1),
            crashDetection: period * (2 * (2 * (n - 1) + 1)) + maximumSuspicion + .seconds(1),
            heal: settings.reconnectInterval * 2 + maximumSuspicion + .seconds(2),
            leave: period * (2 * (2 * (n - 1) + 1)) + maximumSuspicion + .seconds(1),
            maximumSuspicion: maximumSuspicion)
    }

    /// Runs one scenario. `members` defaults to a seeded choice in 5...9. With `sealer`, all
    /// traffic is sealed on the simulated wire as an encrypting shell seals it.
    public static func run(seed: UInt64, members: Int? = nil, kind: Kind? = nil,
                           settings: SWIM.Settings = .testing, sealer: SWIM.GossipSealer? = nil) -> SWIMScenarioReport {
        var random = DeterministicRandom(seed: seed ^ 0x5357_494D_5343_454E)
        let n = members ?? Int.random(in: 5...9, using: &random)
        let kind = kind ?? Kind.allCases[Int(seed % UInt64(Kind.allCases.count))]
        let loss = [0.0, 0.02, 0.05, 0.1][Int.random(in: 0..<4, using: &random)]
        let faults = NetworkFaults(lossRate: loss, duplicateRate: 0.01, minDelay: .microseconds(500), maxDelay: .milliseconds(3))
        let sim = SWIMSimulation(memberCount: n, seed: seed, settings: settings, faults: faults, sealer: sealer)
        let runner = ScenarioRunner(sim: sim, report: SWIMScenarioReport(seed: seed, members: n, kind: kind, lossRate: loss),
                                    bounds: bounds(settings: settings, members: n), random: random)
        runner.play()
        return runner.finish()
    }

    static func format(_ time: Duration) -> String {
        let millis = time.nanoseconds / 1_000_000
        let fraction = String(millis % 1000)
        return "\(millis / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }

    static func log10(_ x: Double) -> Double { ln(x) / ln(10) }
    static func log2(_ x: Double) -> Double { ln(x) / ln(2) }

    /// Natural logarithm (x ≥ 1) by range reduction and the atanh series.
    static func ln(_ x: Double) -> Double {
        var value = x
        var exponent = 0.0
        while value >= 2 {
            value /= 2
            exponent += 1
        }
        let y = (value - 1) / (value + 1)
        var term = y
        var sum = 0.0
        var k = 1.0
        for _ in 0..<30 {
            sum += term / k
            term *= y * y
            k += 2
        }
        return 2 * sum + exponent * 0.693_147_180_559_945_3
    }
}

extension Duration {
    /// The duration multiplied by a non-negative factor (nanosecond precision).
    func scaled(_ factor: Double) -> Duration {
        .nanoseconds(Int64((Double(nanoseconds) * factor).rounded(.up)))
    }
}
