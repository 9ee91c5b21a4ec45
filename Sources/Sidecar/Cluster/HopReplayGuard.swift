// MARK: - HopReplayGuard

/// Refuses hop proofs that are stale, from too far in the future, or seen before: a proof is
/// accepted once, and only while its timestamp is within ``skew`` ms of the receiver's clock.
/// Nonces are remembered until they could no longer pass the clock check, within ``capacity``;
/// when that many are remembered, further proofs are refused until old ones expire (a replay
/// can never slip through because memory ran out). Pure: time comes in as milliseconds.
public struct HopReplayGuard: Sendable {
    public enum Verdict: Hashable, Sendable {
        case accepted
        /// The timestamp is more than ``skew`` ms old.
        case expired(ageMilliseconds: Int64)
        /// The timestamp is more than ``skew`` ms ahead of this clock.
        case fromTheFuture(aheadMilliseconds: Int64)
        /// This nonce was accepted before.
        case replayed
        /// ``capacity`` nonces are remembered and none expired yet.
        case full

        /// The metric label of the verdict.
        public var label: String {
            switch self {
            case .accepted: "proven"
            case .expired: "expired"
            case .fromTheFuture: "future"
            case .replayed: "replayed"
            case .full: "replay_memory_full"
            }
        }
    }

    /// Largest difference, either way, between a proof's timestamp and this clock (ms).
    public let skew: Int64
    /// Most nonces remembered at once.
    public let capacity: Int
    private var seen: Set<[UInt8]> = []
    /// Nonces in the order accepted, with their timestamps; forgotten from the front.
    private var order: [(timestamp: Int64, nonce: [UInt8])] = []
    private var head = 0

    public init(skew: Int64 = 10_000, capacity: Int = 262_144) {
        self.skew = skew
        self.capacity = capacity
    }

    /// Nonces remembered now.
    public var remembered: Int { seen.count }

    /// Checks a proof's timestamp and nonce at `now`, remembering the nonce when accepted.
    public mutating func admit(nonce: [UInt8], timestamp: Int64, now: Int64) -> Verdict {
        forget(now: now)
        let age = now &- timestamp
        if age > skew { return .expired(ageMilliseconds: age) }
        if -age > skew { return .fromTheFuture(aheadMilliseconds: -age) }
        if seen.contains(nonce) { return .replayed }
        guard seen.count < capacity else { return .full }
        seen.insert(nonce)
        order.append((timestamp, nonce))
        return .accepted
    }

    /// Forgets nonces whose timestamps the clock check now refuses anyway. Timestamps arrive
    /// nearly in order; one out of order only delays forgetting those behind it.
    private mutating func forget(now: Int64) {
        while head < order.count, now &- order[head].timestamp > skew {
            seen.remove(order[head].nonce)
            head += 1
        }
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
