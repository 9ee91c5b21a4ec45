import DiscoCore
import LeaseCore

// MARK: - LeaseInvariantChecker

/// The safety properties of the hot/cold lease, checked after every simulation step:
///
/// 1. At most one replica believes it is hot at any real instant (a paused replica whose clock
///    has not reached its deadline counts: it would act the moment it wakes).
/// 2. A replica that believes it is hot with token T holds the lease with T in the committed
///    log: no other grant has committed since (stronger than 1, and fails earlier).
/// 3. Tokens of committed grants strictly increase.
/// 4. The fenced backend never accepts a token lower than one it accepted before, and every
///    token is written by one replica only.
/// 5. Every replica applies the same results as the log's first application.
/// 6. No successor is granted the lease while the holder that hands it over (stop, move) still
///    has a write with its token in flight, within the drain timeout of its wait.
public struct LeaseInvariantChecker: Sendable {
    public private(set) var violations: [String] = []
    private var lastGrantedToken: UInt64 = 0
    private var highestAccepted: UInt64 = 0
    private var writers: [UInt64: NodeID] = [:]

    public init() {}

    mutating func fail(_ message: String) {
        if violations.count < 20 { violations.append(message) }
    }

    /// Checks 1, and 2 unless `committed` is nil: `believers` are the replicas that believe they
    /// are hot right now.
    mutating func checkHot(believers: [(node: NodeID, token: UInt64)], committed: LeaseState?, at now: Duration) {
        if believers.count > 1 {
            let list = believers.map { "\($0.node) (token \($0.token))" }.joined(separator: ", ")
            fail("\(stamp(now)): \(believers.count) replicas believe they are hot at once: \(list)")
        }
        guard let committed else { return }
        for believer in believers where committed.holder != believer.node || committed.token != believer.token {
            fail("\(stamp(now)): \(believer.node) believes it is hot with token \(believer.token), but the committed lease is "
                + "\(committed.holder.map { "held by \($0)" } ?? "not held") with token \(committed.token)")
        }
    }

    /// Checks 3 for a grant committed with `token`.
    mutating func grantCommitted(token: UInt64, at now: Duration) {
        if token <= lastGrantedToken {
            fail("\(stamp(now)): grant committed with token \(token) after token \(lastGrantedToken)")
        }
        lastGrantedToken = max(lastGrantedToken, token)
    }

    /// Checks 4 for a write the backend accepted.
    mutating func backendAccepted(token: UInt64, from node: NodeID, at now: Duration) {
        if token < highestAccepted {
            fail("\(stamp(now)): the backend accepted token \(token) from \(node) after token \(highestAccepted)")
        }
        highestAccepted = max(highestAccepted, token)
        if let writer = writers[token], writer != node {
            fail("\(stamp(now)): token \(token) was written by \(writer) and by \(node)")
        }
        writers[token] = node
    }

    /// Checks 6 for a grant of `token` to `node` while `holder`, handing over `previous`, has
    /// waited `waited` (less than `drainTimeout`) with `writesInFlight` writes still on their way.
    mutating func grantedDuringHandOver(token: UInt64, to node: NodeID, from holder: NodeID, previous: UInt64, writesInFlight: Int,
                                        waited: Duration, drainTimeout: Duration, at now: Duration) {
        guard writesInFlight > 0 else { return }
        fail("\(stamp(now)): token \(token) granted to \(node) while \(holder) still has \(writesInFlight) writes with token "
            + "\(previous) in flight, \(stamp(waited)) into its hand-over (drain timeout \(GoDuration.format(drainTimeout)))")
    }

    /// Checks 5 for one application of log entry `index` on `node`.
    mutating func applied(_ result: LeaseApplyResult?, expected: LeaseApplyResult?, index: Int, node: NodeID, at now: Duration) {
        if result != expected {
            fail("\(stamp(now)): \(node) applied entry \(index) as \(String(describing: result)), first applied as \(String(describing: expected))")
        }
    }

    func stamp(_ time: Duration) -> String { LeaseSimulationTrace.stamp(time) }
}

// MARK: - LeaseSimulationTrace

/// The notable events of a run (grants, hot and cold transitions, faults, writes with a new
/// token): the last few as text for a report, and a hash of all of them to prove that a seed
/// replays identically.
public struct LeaseSimulationTrace: Sendable {
    public let limit: Int
    private var ring: [String] = []
    private var start = 0
    public private(set) var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    public private(set) var count = 0

    public init(limit: Int) { self.limit = max(1, limit) }

    mutating func record(_ line: String, at time: Duration) {
        let text = Self.stamp(time) + " " + line
        count += 1
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        if ring.count < limit {
            ring.append(text)
        } else {
            ring[start] = text
            start = (start + 1) % limit
        }
    }

    /// The retained lines, oldest first.
    public var lines: [String] { Array(ring[start...] + ring[..<start]) }

    static func stamp(_ time: Duration) -> String {
        let micros = time.nanoseconds / 1000
        let fraction = String(micros % 1000)
        return "\(micros / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)ms"
    }
}
