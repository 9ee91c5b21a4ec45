import DiscoCore
import DiscoRaft

// MARK: - TraceEvent

/// One thing that happened in a simulation run, kept compact and rendered only when needed.
public enum TraceEvent: Sendable {
    case deliver(node: Int, message: Message)
    case tick(node: Int)
    case role(node: Int, state: SoftState)
    case crash(node: Int, duringWrite: Bool)
    case restart(node: Int, lastIndex: UInt64, term: UInt64)
    case fault(String)
    case propose(node: Int, index: UInt64)
    case apply(node: Int, index: UInt64, term: UInt64)
    case note(String)
}

// MARK: - SimulationTrace

/// The last events of a run (for a readable report) and a hash of all of them (to prove that a
/// seed replays identically).
public struct SimulationTrace: Sendable {
    public let limit: Int
    private var ring: [(time: Duration, event: TraceEvent)] = []
    private var start = 0
    public private(set) var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    public private(set) var count = 0

    public init(limit: Int) { self.limit = max(1, limit) }

    mutating func record(_ event: TraceEvent, at time: Duration, bytes: [UInt8] = []) {
        count += 1
        mix(UInt64(truncatingIfNeeded: time.nanoseconds))
        switch event {
        case .deliver(let node, _): mix(1); mix(UInt64(node)); for byte in bytes { mixByte(byte) }
        case .tick(let node): mix(2); mix(UInt64(node))
        case .role(let node, let state): mix(3); mix(UInt64(node)); mix(state.term); mix(UInt64(state.role.rawValue.utf8.count))
        case .crash(let node, let during): mix(4); mix(UInt64(node)); mix(during ? 1 : 0)
        case .restart(let node, let last, let term): mix(5); mix(UInt64(node)); mix(last); mix(term)
        case .fault(let text), .note(let text): mix(6); for byte in text.utf8 { mixByte(byte) }
        case .propose(let node, let index): mix(7); mix(UInt64(node)); mix(index)
        case .apply(let node, let index, let term): mix(8); mix(UInt64(node)); mix(index); mix(term)
        }
        if case .tick = event { return }  // ticks are hashed but too many to be worth showing
        if ring.count < limit {
            ring.append((time, event))
        } else {
            ring[start] = (time, event)
            start = (start + 1) % limit
        }
    }

    private mutating func mixByte(_ byte: UInt8) {
        hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    private mutating func mix(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { mixByte(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    /// The retained events, oldest first, one readable line each.
    public func lines(names: [String]) -> [String] {
        let ordered = Array(ring[start...] + ring[..<start])
        return ordered.map { time, event in
            let ms = Double(time.nanoseconds) / 1_000_000
            let stamp = String(Int(ms)) + "ms"
            func name(_ node: Int) -> String { node < names.count ? names[node] : "?\(node)" }
            switch event {
            case .deliver(_, let message): return "\(stamp) deliver \(message)"
            case .tick(let node): return "\(stamp) tick \(name(node))"
            case .role(let node, let state):
                return "\(stamp) \(name(node)) is \(state.role.rawValue) t\(state.term) leader=\(state.leader?.rawValue ?? "-")"
            case .crash(let node, let during): return "\(stamp) CRASH \(name(node))\(during ? " during a write" : "")"
            case .restart(let node, let last, let term): return "\(stamp) RESTART \(name(node)) last=\(last) term=\(term)"
            case .fault(let text): return "\(stamp) FAULT \(text)"
            case .propose(let node, let index): return "\(stamp) propose at \(name(node)) -> index \(index)"
            case .apply(let node, let index, let term): return "\(stamp) \(name(node)) applies \(index)@\(term)"
            case .note(let text): return "\(stamp) \(text)"
            }
        }
    }
}
