import DiscoCore
@testable import SWIMCore

// MARK: - Helpers for driving one instance by hand

func address(_ name: String) -> PeerAddress { PeerAddress(host: "host-\(name)", port: 7946) }

func node(_ name: String) -> NodeID { NodeID(stringLiteral: name) }

/// An instance named `name` that already knows `others` as alive at incarnation 0.
func makeInstance(_ name: String = "a", others: [String] = ["b", "c", "d", "e"],
                  settings: SWIM.Settings = SWIM.Settings(), seed: UInt64 = 7) throws -> SWIM.Instance {
    let states = ([name] + others).map {
        SWIM.MemberState(id: node($0), address: address($0), incarnation: 0, status: .alive, metadata: SWIM.Metadata())
    }
    return try SWIM.Instance(id: node(name), address: address(name), settings: settings,
                             random: DeterministicRandom(seed: seed), snapshot: SWIM.Snapshot(states, at: .zero))
}

extension Array where Element == SWIM.Effect {
    /// Packets sent, with their destination.
    var sends: [(packet: SWIM.Packet, to: PeerAddress)] {
        compactMap { if case .send(let packet, let to) = $0 { (packet, to) } else { nil } }
    }

    /// Member events emitted.
    var events: [SWIM.MemberEvent] {
        compactMap { if case .event(let event) = $0 { event } else { nil } }
    }

    /// The deadline `timer` was (last) armed with.
    func deadline(_ timer: SWIM.Timer) -> Duration? {
        last { if case .arm(timer, _) = $0 { true } else { false } }.flatMap {
            if case .arm(_, let deadline) = $0 { deadline } else { nil }
        }
    }

    /// Timers armed, in order.
    var timers: [SWIM.Timer] {
        compactMap { if case .arm(let timer, _) = $0 { timer } else { nil } }
    }

    var pushPulls: [(to: PeerAddress, state: SWIM.PushPullState)] {
        compactMap { if case .startPushPull(let to, let state) = $0 { (to, state) } else { nil } }
    }
}

extension SWIM.Message {
    var pingSequence: SWIM.Sequence? {
        if case .ping(let sequence, _, _) = self { sequence } else { nil }
    }
}

extension SWIM.Instance {
    /// Fires the protocol period and returns the probe's sequence and target.
    mutating func probe(now: Duration) -> (effects: [SWIM.Effect], sequence: SWIM.Sequence, target: NodeID)? {
        let effects = timerFired(.protocolPeriod, now: now)
        for (packet, _) in effects.sends {
            if case .ping(let sequence, _, let target) = packet.message { return (effects, sequence, target) }
        }
        return nil
    }

    /// Delivers a gossip-only packet carrying `items` from `sender`.
    mutating func hear(_ items: [SWIM.GossipItem], from sender: String, now: Duration) -> [SWIM.Effect] {
        received(SWIM.Packet(message: .gossip, gossip: items), from: SWIMCoreTests.address(sender), now: now)
    }
}

func ms(_ value: Int64) -> Duration { .milliseconds(value) }
