import DiscoCore

// MARK: - Gossip: applying updates

extension SWIM.Instance {
    /// Applies one membership update (from gossip, push-pull or a local decision), emitting
    /// events and re-gossiping it when it changed something. `rebroadcast: false` applies it
    /// quietly (state learned while joining, which the cluster already knows).
    mutating func apply(_ item: SWIM.GossipItem, now: Duration, rebroadcast: Bool = true) {
        switch item {
        case .alive(let subject, let incarnation, let memberAddress, let memberMetadata):
            if subject == id {
                let differs = memberAddress != address || memberMetadata != metadata
                if !isLeaving, incarnation > self.incarnation || (incarnation == self.incarnation && differs) {
                    // Only this member's ID announces "alive" about it: another address is
                    // another process, now or before a restart. Outbidding us is what a live
                    // duplicate keeps doing; stale claims of a dead one run out.
                    let outbids = incarnation > self.incarnation
                    refute(above: incarnation, penalize: false, now: now)
                    if outbids, memberAddress != address { noteRefutation(ofClaimAt: memberAddress, incarnation: incarnation, now: now) }
                }
                return
            }
            guard let known = table[subject] else {
                let member = SWIM.Member(id: subject, address: memberAddress, incarnation: incarnation, status: .alive,
                                         metadata: memberMetadata, statusChangedAt: now)
                store(member, previous: nil, now: now)
                emit(.joined(member))
                if rebroadcast { broadcast(item, now: now) }
                return
            }
            guard incarnation > known.incarnation else { return }
            var member = known
            member.incarnation = incarnation
            member.address = memberAddress
            member.metadata = memberMetadata
            member.status = .alive
            if known.status != .alive { member.statusChangedAt = now }
            suspicions[subject] = nil
            store(member, previous: known.status, now: now)
            let changed = known.metadata != memberMetadata || known.address != memberAddress
            switch known.status {
            case .dead, .left: emit(.joined(member))
            case .suspect:
                emit(.alive(member))
                if changed { emit(.metadataUpdated(member)) }
            case .alive:
                if changed { emit(.metadataUpdated(member)) }
            }
            if rebroadcast { broadcast(item, now: now) }

        case .suspect(let subject, let incarnation, let accuser):
            if subject == id {
                if !isLeaving, incarnation >= self.incarnation { refute(above: incarnation, penalize: true, now: now) }
                return
            }
            guard var member = table[subject], member.status.isLive, incarnation >= member.incarnation else { return }
            if member.status == .suspect, incarnation == member.incarnation, var suspicion = suspicions[subject] {
                // Another accuser: an independent confirmation shortens the timeout.
                guard suspicion.accusers.insert(accuser).inserted else { return }
                suspicions[subject] = suspicion
                arm(.suspicion(subject), at: suspicion.deadline)
                if rebroadcast { broadcast(item, now: now) }
                return
            }
            let previous = member.status
            member.status = .suspect
            member.incarnation = incarnation
            member.statusChangedAt = now
            store(member, previous: previous, now: now)
            let suspicion = startSuspicion(of: subject, incarnation: incarnation, accuser: accuser, now: now)
            arm(.suspicion(subject), at: suspicion.deadline)
            emit(.suspect(member))
            if rebroadcast { broadcast(item, now: now) }
            if accuser == id {
                // Buddy system: tell the suspect at once so it can refute.
                suspicions[subject]?.notifiesSuspect = true
                send(.gossip, to: member.address, recipient: subject, now: now)
            }

        case .dead(let subject, let incarnation, let accuser):
            if subject == id {
                if !isLeaving, incarnation >= self.incarnation { refute(above: incarnation, penalize: true, now: now) }
                return
            }
            guard var member = table[subject], member.status.isLive, incarnation >= member.incarnation else { return }
            if accuser != id, !hasSuspectedLongEnough(subject, incarnation: incarnation, now: now) {
                // Someone else's verdict counts as a confirmation until we have ourselves held
                // the suspicion for its minimum time: the member gets its chance to refute
                // (verdicts reached after a partition heals are often stale).
                suspectOnVerdict(subject, incarnation: incarnation, accuser: accuser, now: now, rebroadcast: rebroadcast)
                return
            }
            let previous = member.status
            member.status = .dead
            member.incarnation = incarnation
            member.statusChangedAt = now
            suspicions[subject] = nil
            store(member, previous: previous, now: now)
            emit(.dead(member))
            if rebroadcast { broadcast(item, now: now) }

        case .left(let subject, let incarnation):
            if subject == id {
                if !isLeaving, incarnation >= self.incarnation { refute(above: incarnation, penalize: false, now: now) }
                return
            }
            guard var member = table[subject], member.status != .left, incarnation >= member.incarnation else { return }
            let previous = member.status
            member.status = .left
            member.incarnation = incarnation
            member.statusChangedAt = now
            suspicions[subject] = nil
            store(member, previous: previous, now: now)
            emit(.left(member))
            if rebroadcast { broadcast(item, now: now) }
        }
    }

    /// Starts a Lifeguard suspicion sized for the current cluster.
    mutating func startSuspicion(of subject: NodeID, incarnation: UInt64, accuser: NodeID, now: Duration) -> SWIM.Suspicion {
        let n = max(1, liveCount)
        let minimum = settings.probeInterval.scaled(by: settings.suspicionMultiplier * max(1, naturalLog(Double(n)) / naturalLog(10)))
        let maximum = minimum.scaled(by: settings.suspicionMaxTimeoutMultiplier)
        let expected = min(settings.expectedConfirmations, max(0, n - 2))
        let suspicion = SWIM.Suspicion(incarnation: incarnation, startedAt: now, accusers: [accuser],
                                       expectedConfirmations: expected, minTimeout: minimum, maxTimeout: maximum)
        suspicions[subject] = suspicion
        return suspicion
    }

    /// Suspects `subject` because someone else says it is dead. If it was alive here, the
    /// verdict is news the suspect may not have heard: tell it directly (buddy system).
    mutating func suspectOnVerdict(_ subject: NodeID, incarnation: UInt64, accuser: NodeID, now: Duration, rebroadcast: Bool) {
        let wasAlive = table[subject]?.status == .alive
        apply(.suspect(id: subject, incarnation: incarnation, accuser: accuser), now: now, rebroadcast: rebroadcast)
        guard wasAlive, let member = table[subject], member.status == .suspect else { return }
        suspicions[subject]?.notifiesSuspect = true
        send(.gossip, to: member.address, recipient: subject, now: now)
    }

    /// Whether this member has suspected `subject` at `incarnation` for at least the minimum
    /// suspicion timeout.
    func hasSuspectedLongEnough(_ subject: NodeID, incarnation: UInt64, now: Duration) -> Bool {
        guard let suspicion = suspicions[subject], suspicion.incarnation == incarnation else { return false }
        return now - suspicion.startedAt >= suspicion.minTimeout
    }

    mutating func onSuspicionTimeout(_ subject: NodeID, now: Duration) {
        guard let suspicion = suspicions[subject], let member = table[subject], member.status == .suspect,
            member.incarnation == suspicion.incarnation
        else { return }
        guard now >= suspicion.deadline else {
            arm(.suspicion(subject), at: suspicion.deadline)
            return
        }
        apply(.dead(id: subject, incarnation: member.incarnation, accuser: id), now: now)
    }

    /// Someone says this member is suspect, dead, left or different: outbid them.
    mutating func refute(above claimed: UInt64, penalize: Bool, now: Duration) {
        incarnation = Self.next(after: max(incarnation, claimed))
        if penalize { health.apply(1) }
        storeSelf(now: now)
        broadcast(.alive(id: id, incarnation: incarnation, address: address, metadata: metadata), now: now)
    }

    // MARK: Sending

    /// Queues `item` for piggybacking and makes sure a gossip round is scheduled.
    mutating func broadcast(_ item: SWIM.GossipItem, now: Duration) {
        guard SWIM.WireCodec.encodedSize(of: item) <= settings.maxPacketSize - 16 else { return }
        broadcasts.enqueue(item)
        scheduleGossip(now: now)
    }

    /// Sends `message` with as much pending gossip as fits the packet size. When the recipient
    /// is suspected, the suspicion goes first (buddy system) so it can refute.
    mutating func send(_ message: SWIM.Message, to destination: PeerAddress, recipient: NodeID?,
                       first: [SWIM.GossipItem] = [], now: Duration) {
        var budget = settings.maxPacketSize - SWIM.WireCodec.encodedSize(of: message)
        var items: [SWIM.GossipItem] = []
        var buddy: NodeID?
        for item in first {
            let size = SWIM.WireCodec.encodedSize(of: item)
            guard size <= budget else { continue }
            items.append(item)
            budget -= size
        }
        if let recipient, !first.contains(where: { $0.subject == recipient }), let member = table[recipient],
            member.status == .suspect {
            let item = SWIM.GossipItem.suspect(id: recipient, incarnation: member.incarnation, accuser: id)
            let size = SWIM.WireCodec.encodedSize(of: item)
            if size <= budget {
                items.append(item)
                budget -= size
                buddy = recipient
                if case .suspect? = broadcasts.pending(about: recipient) { broadcasts.markSent(recipient, limit: retransmitLimit) }
            }
        }
        let taken = broadcasts.take(budget: budget, maxItems: SWIM.WireCodec.maxGossipItems - items.count,
                                    limit: retransmitLimit, excluding: buddy)
        items.append(contentsOf: taken.items)
        effects.append(.send(SWIM.Packet(message: message, gossip: items), to: destination))
        if isLeaving, broadcasts.pending(about: id) == nil { completeLeave() }
    }

    mutating func onGossipTimer(now: Duration) {
        gossipArmed = false
        guard !broadcasts.isEmpty else { return }
        var targets = randomMembers(count: settings.gossipFanout) { $0.status.isLive }
        // Buddy system: members we accused ourselves hear of it while the news is fresh.
        let accused = suspicions.filter { $0.value.notifiesSuspect }.keys.sorted()
        for subject in accused where !targets.contains(where: { $0.id == subject }) {
            if case .suspect? = broadcasts.pending(about: subject), let member = table[subject] { targets.append(member) }
        }
        for target in targets where !broadcasts.isEmpty {
            send(.gossip, to: target.address, recipient: target.id, now: now)
        }
        if targets.isEmpty, isLeaving { completeLeave() }
        if !targets.isEmpty { scheduleGossip(now: now) }
    }

    /// Arms the gossip timer when gossip is pending and someone could receive it.
    mutating func scheduleGossip(now: Duration) {
        guard !gossipArmed, !broadcasts.isEmpty, liveCount > (isLeaving ? 0 : 1) else { return }
        gossipArmed = true
        arm(.gossip, at: now + settings.gossipInterval)
    }
}
