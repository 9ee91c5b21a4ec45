import DiscoCore

// MARK: - Inputs: timers and packets

extension SWIM.Instance {
    /// A timer armed earlier fired. Stale timers (their probe finished, their suspicion was
    /// refuted) are ignored.
    public mutating func timerFired(_ timer: SWIM.Timer, now: Duration) -> [SWIM.Effect] {
        switch timer {
        case .protocolPeriod: onProtocolPeriod(now: now)
        case .directProbeTimeout(let sequence): onDirectProbeTimeout(sequence, now: now)
        case .relayTimeout(let sequence): onRelayTimeout(sequence, now: now)
        case .suspicion(let member): onSuspicionTimeout(member, now: now)
        case .gossip: onGossipTimer(now: now)
        case .pushPull: onPushPullTimer(now: now)
        case .reconnect: onReconnectTimer(now: now)
        case .reap: onReapTimer(now: now)
        case .leave: completeLeave()
        }
        return finish(now: now)
    }

    /// A packet arrived from `from` (the datagram's source address).
    public mutating func received(_ packet: SWIM.Packet, from: PeerAddress, now: Duration) -> [SWIM.Effect] {
        // Gossip first, so that an ack already carries a refutation of a suspicion it brought.
        // Where we know better than the sender (it accuses us, or its news is stale), the
        // reply starts with our newer news (at most a few items).
        var corrections: [SWIM.GossipItem] = []
        for item in packet.gossip {
            apply(item, now: now)
            if corrections.count < Self.maxCorrections, let newer = newerNews(than: item),
                !corrections.contains(where: { $0.subject == newer.subject }) {
                corrections.append(newer)
            }
        }
        if !corrections.isEmpty, !packet.message.isPingTo(id) {
            send(.gossip, to: from, recipient: nil, first: corrections, now: now)
        }
        switch packet.message {
        case .ping(let sequence, let source, let target):
            if target == id { send(.ack(sequence: sequence, source: id), to: from, recipient: source, first: corrections, now: now) }
        case .ack(let sequence, _):
            onAck(sequence, now: now)
        case .nack(let sequence):
            if var probe = activeProbe, probe.sequence == sequence {
                probe.nacks += 1
                activeProbe = probe
            }
        case .pingRequest(let sequence, let source, let target, let targetAddress):
            let relaySequence = takeSequence()
            relays[relaySequence] = Relay(originSequence: sequence, origin: from, originID: source)
            send(.ping(sequence: relaySequence, source: id, target: target), to: targetAddress, recipient: target, now: now)
            arm(.relayTimeout(sequence: relaySequence), at: now + settings.probeTimeout)
        case .gossip:
            break
        }
        return finish(now: now)
    }

    /// Most corrections sent back for one received packet.
    static var maxCorrections: Int { 4 }

    /// Our record about `item`'s subject as a gossip item, when it is strictly newer than the
    /// item (higher incarnation, or the same incarnation and a later status).
    func newerNews(than item: SWIM.GossipItem) -> SWIM.GossipItem? {
        guard let member = table[item.subject] else { return nil }
        let itemRank: UInt8
        switch item {
        case .alive: itemRank = SWIM.MemberStatus.alive.rawValue
        case .suspect: itemRank = SWIM.MemberStatus.suspect.rawValue
        case .dead: itemRank = SWIM.MemberStatus.dead.rawValue
        case .left: itemRank = SWIM.MemberStatus.left.rawValue
        }
        guard (member.incarnation, member.status.rawValue) > (item.incarnation, itemRank) else { return nil }
        return gossipItem(for: member)
    }

    /// A member's record as gossip.
    func gossipItem(for member: SWIM.Member) -> SWIM.GossipItem {
        switch member.status {
        case .alive: .alive(id: member.id, incarnation: member.incarnation, address: member.address, metadata: member.metadata)
        case .suspect: .suspect(id: member.id, incarnation: member.incarnation, accuser: id)
        case .dead: .dead(id: member.id, incarnation: member.incarnation, accuser: id)
        case .left: .left(id: member.id, incarnation: member.incarnation)
        }
    }

    // MARK: Probing

    mutating func takeSequence() -> SWIM.Sequence {
        nextSequence &+= 1
        return nextSequence
    }

    mutating func onProtocolPeriod(now: Duration) {
        if let probe = activeProbe {
            activeProbe = nil
            probeFailed(probe, now: now)
        }
        guard !isLeaving else { return }
        startProbe(now: now)
        arm(.protocolPeriod, at: now + currentProbeInterval)
    }

    mutating func startProbe(now: Duration) {
        guard let target = nextProbeTarget() else { return }
        let sequence = takeSequence()
        activeProbe = ActiveProbe(sequence: sequence, target: target.id, address: target.address)
        var first: [SWIM.GossipItem] = []
        if announcingProbes > 0 {
            announcingProbes -= 1
            first.append(.alive(id: id, incarnation: incarnation, address: address, metadata: metadata))
        }
        send(.ping(sequence: sequence, source: id, target: target.id), to: target.address, recipient: target.id, first: first, now: now)
        arm(.directProbeTimeout(sequence: sequence), at: now + currentProbeTimeout)
    }

    /// Walks the randomized round-robin order to the next live member other than this one.
    mutating func nextProbeTarget() -> SWIM.Member? {
        if probeOrderGeneration != table.layoutGeneration {
            probeOrder.invalidate()
            probeOrderGeneration = table.layoutGeneration
        }
        var reshuffled = false
        while true {
            guard let slot = probeOrder.next() else {
                if reshuffled { return nil }
                reshuffled = true
                probeOrder.reshuffle(slotCount: table.slotCount, random: &random)
                continue
            }
            guard slot < table.slotCount, let member = table[slot: slot], member.id != id, member.status.isLive else { continue }
            return member
        }
    }

    mutating func onDirectProbeTimeout(_ sequence: SWIM.Sequence, now: Duration) {
        guard var probe = activeProbe, probe.sequence == sequence, !probe.indirectSent else { return }
        probe.indirectSent = true
        let target = probe.target
        let helpers = randomMembers(count: settings.indirectProbeCount) { $0.status == .alive && $0.id != target }
        probe.expectedNacks = helpers.count
        activeProbe = probe
        for helper in helpers {
            send(.pingRequest(sequence: sequence, source: id, target: target, targetAddress: probe.address),
                 to: helper.address, recipient: helper.id, now: now)
        }
    }

    mutating func onAck(_ sequence: SWIM.Sequence, now: Duration) {
        if let probe = activeProbe, probe.sequence == sequence {
            activeProbe = nil
            health.apply(-1)
        } else if let relay = relays.removeValue(forKey: sequence) {
            send(.ack(sequence: relay.originSequence, source: id), to: relay.origin, recipient: relay.originID, now: now)
        }
    }

    mutating func onRelayTimeout(_ sequence: SWIM.Sequence, now: Duration) {
        guard let relay = relays.removeValue(forKey: sequence) else { return }
        send(.nack(sequence: relay.originSequence), to: relay.origin, recipient: relay.originID, now: now)
    }

    /// The probe got no ack by the end of its period: raise LHM by the nacks that did not come
    /// (or by one when no helper could be asked), then suspect the target.
    mutating func probeFailed(_ probe: ActiveProbe, now: Duration) {
        health.apply(probe.expectedNacks > 0 ? probe.expectedNacks - probe.nacks : 1)
        guard let member = table[probe.target], member.status.isLive else { return }
        apply(.suspect(id: member.id, incarnation: member.incarnation, accuser: id), now: now)
    }

    // MARK: Random choice

    /// Up to `count` distinct random members satisfying `predicate` (never this member).
    mutating func randomMembers(count: Int, where predicate: (SWIM.Member) -> Bool) -> [SWIM.Member] {
        Self.pick(count, from: table, excluding: id, using: &random, where: predicate)
    }

    static func pick(_ count: Int, from table: SWIM.MemberTable, excluding me: NodeID,
                     using random: inout DeterministicRandom, where predicate: (SWIM.Member) -> Bool) -> [SWIM.Member] {
        guard count > 0, table.slotCount > 0 else { return [] }
        if table.slotCount > 256 {
            // Rejection sampling keeps this O(count) in large, mostly live tables.
            var chosen: [SWIM.Member] = []
            var seen: Set<Int> = []
            for _ in 0..<(count * 16) {
                let slot = Int.random(in: 0..<table.slotCount, using: &random)
                guard seen.insert(slot).inserted, let member = table[slot: slot], member.id != me, predicate(member) else { continue }
                chosen.append(member)
                if chosen.count == count { return chosen }
            }
        }
        var candidates: [SWIM.Member] = []
        for slot in 0..<table.slotCount {
            if let member = table[slot: slot], member.id != me, predicate(member) { candidates.append(member) }
        }
        guard candidates.count > count else { return candidates }
        for index in 0..<count {
            let other = Int.random(in: index..<candidates.count, using: &random)
            candidates.swapAt(index, other)
        }
        return Array(candidates.prefix(count))
    }
}

extension SWIM.Message {
    /// Whether this is a ping meant for `member`.
    func isPingTo(_ member: NodeID) -> Bool {
        if case .ping(_, _, let target) = self { return target == member }
        return false
    }
}
