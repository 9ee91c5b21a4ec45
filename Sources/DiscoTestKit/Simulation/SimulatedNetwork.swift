import DiscoCore

// MARK: - NetworkFaults

/// How the simulated network misbehaves. Reordering follows from random per-message delays.
public struct NetworkFaults: Sendable, Hashable {
    /// Probability that a message is silently dropped.
    public var lossRate: Double = 0
    /// Probability that a delivered message is delivered a second time (with its own delay).
    public var duplicateRate: Double = 0
    /// One-way delay bounds; each message draws uniformly from `minDelay...maxDelay`.
    public var minDelay: Duration = .milliseconds(1)
    public var maxDelay: Duration = .milliseconds(5)

    public init(lossRate: Double = 0, duplicateRate: Double = 0,
                minDelay: Duration = .milliseconds(1), maxDelay: Duration = .milliseconds(5)) {
        self.lossRate = lossRate
        self.duplicateRate = duplicateRate
        self.minDelay = minDelay
        self.maxDelay = maxDelay
    }

    /// A perfect network with a fixed 1 ms delay.
    public static let none = NetworkFaults(minDelay: .milliseconds(1), maxDelay: .milliseconds(1))
}

// MARK: - SimulatedNetwork

/// A lossy, reordering, duplicating network between simulated nodes, with one-way and
/// symmetric partitions. It decides *whether and when* each message arrives; the simulator
/// owns the timeline and the nodes.
public struct SimulatedNetwork<Node: Hashable & Comparable & Sendable>: Sendable {
    /// Current fault settings; change them at any time during a run.
    public var faults: NetworkFaults
    /// Directed links that drop everything: `(from, to)`.
    public private(set) var blocked: Set<Link> = []

    /// A directed link between two nodes.
    public struct Link: Hashable, Sendable {
        public let from: Node
        public let to: Node
        public init(from: Node, to: Node) {
            self.from = from
            self.to = to
        }
    }

    public init(faults: NetworkFaults = .none) {
        self.faults = faults
    }

    /// Delays after which copies of one message sent from `from` to `to` arrive: empty when the
    /// message is lost or the link is cut, two entries when it is duplicated.
    public func deliveries(from: Node, to: Node, random: inout DeterministicRandom) -> [Duration] {
        guard from == to || !blocked.contains(Link(from: from, to: to)) else { return [] }
        if faults.lossRate > 0, Double.random(in: 0..<1, using: &random) < faults.lossRate { return [] }
        var delays = [drawDelay(&random)]
        if faults.duplicateRate > 0, Double.random(in: 0..<1, using: &random) < faults.duplicateRate {
            delays.append(drawDelay(&random))
        }
        return delays
    }

    private func drawDelay(_ random: inout DeterministicRandom) -> Duration {
        let low = faults.minDelay.nanoseconds
        let high = max(low, faults.maxDelay.nanoseconds)
        return .nanoseconds(low == high ? low : Int64.random(in: low...high, using: &random))
    }

    /// Whether a message from `from` to `to` would be dropped by a partition.
    public func isCut(from: Node, to: Node) -> Bool { blocked.contains(Link(from: from, to: to)) }

    /// Cuts traffic from `from` to `to` only (a one-way partition).
    public mutating func cut(from: Node, to: Node) { blocked.insert(Link(from: from, to: to)) }

    /// Splits the nodes into groups that cannot talk to each other in either direction.
    public mutating func partition(_ groups: [[Node]]) {
        for (index, group) in groups.enumerated() {
            for (otherIndex, other) in groups.enumerated() where otherIndex != index {
                for a in group { for b in other { blocked.insert(Link(from: a, to: b)) } }
            }
        }
    }

    /// Isolates `node` from every node in `others`, both directions.
    public mutating func isolate(_ node: Node, from others: [Node]) {
        for other in others where other != node {
            blocked.insert(Link(from: node, to: other))
            blocked.insert(Link(from: other, to: node))
        }
    }

    /// Removes every partition.
    public mutating func heal() { blocked.removeAll() }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled &+ attoseconds / 1_000_000_000
    }
}
