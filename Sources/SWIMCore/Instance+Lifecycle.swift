import DiscoCore

// MARK: - Lifecycle: start, join, leave, metadata

extension SWIM.Instance {
    /// Starts the periodic work: probing (first period at a random phase, so members do not
    /// probe in lockstep), push-pull, reconnecting and reaping.
    public mutating func start(now: Duration) -> [SWIM.Effect] {
        guard !started else { return [] }
        started = true
        let phase = Double.random(in: 0..<1, using: &random)
        arm(.protocolPeriod, at: now + settings.probeInterval.scaled(by: phase))
        arm(.pushPull, at: now + currentPushPullInterval.scaled(by: 0.5 + Double.random(in: 0..<1, using: &random)))
        arm(.reconnect, at: now + currentReconnectInterval)
        arm(.reap, at: now + settings.reapInterval)
        return finish(now: now)
    }

    /// Joins through `seeds` (SWIM addresses of existing members): a push-pull with each
    /// exchanges full state. Seeds that do not become members are re-contacted periodically.
    public mutating func join(_ seeds: [PeerAddress], now: Duration) -> [SWIM.Effect] {
        for seed in seeds where seed != address && !self.seeds.contains(seed) { self.seeds.append(seed) }
        for seed in seeds where seed != address { startPushPull(to: seed, isJoin: liveCount <= 1) }
        // Announce ourselves too (sent once someone is known), so news of the join spreads
        // from two places.
        if !isLeaving { broadcast(.alive(id: id, incarnation: incarnation, address: address, metadata: metadata), now: now) }
        return finish(now: now)
    }

    /// Leaves gracefully: announces "left" with a new incarnation and keeps gossiping until
    /// the news has been sent often enough (or `leaveTimeout` passes), then emits
    /// ``SWIM/Effect/leaveCompleted``. Probing stops.
    public mutating func leave(now: Duration) -> [SWIM.Effect] {
        guard !isLeaving else { return [] }
        isLeaving = true
        incarnation = Self.next(after: incarnation)
        activeProbe = nil
        storeSelf(now: now)
        broadcast(.left(id: id, incarnation: incarnation), now: now)
        arm(.leave, at: now + settings.leaveTimeout)
        if liveCount == 0 { completeLeave() }
        return finish(now: now)
    }

    mutating func completeLeave() {
        guard isLeaving, !leaveCompleted else { return }
        leaveCompleted = true
        effects.append(.leaveCompleted)
    }

    /// Announces new metadata (a new incarnation carries it).
    public mutating func updateMetadata(_ newMetadata: SWIM.Metadata, now: Duration) throws(SWIM.ConfigurationError) -> [SWIM.Effect] {
        try Self.validate(newMetadata, address: address, id: id, settings: settings)
        guard newMetadata != metadata, !isLeaving else { return [] }
        metadata = newMetadata
        incarnation = Self.next(after: incarnation)
        storeSelf(now: now)
        broadcast(.alive(id: id, incarnation: incarnation, address: address, metadata: metadata), now: now)
        return finish(now: now)
    }

    // MARK: Push-pull

    /// Push-pull interval, stretched like memberlist's above 32 members to keep load constant.
    var currentPushPullInterval: Duration {
        guard liveCount > 32 else { return settings.pushPullInterval }
        let factor = Int((naturalLog(Double(liveCount)) / naturalLog(2) - 5).rounded(.up)) + 1
        return settings.pushPullInterval * max(1, factor)
    }

    var currentReconnectInterval: Duration {
        liveCount <= 1 ? min(settings.lonelyReconnectInterval, settings.reconnectInterval) : settings.reconnectInterval
    }

    /// This member's full state for a push-pull.
    public func pushPullState(isJoin: Bool = false) -> SWIM.PushPullState {
        SWIM.PushPullState(sender: id, isJoin: isJoin, members: table.all.map(\.state))
    }

    mutating func startPushPull(to destination: PeerAddress, isJoin: Bool) {
        effects.append(.startPushPull(to: destination, state: pushPullState(isJoin: isJoin)))
    }

    /// Another member opened a push-pull: merge its state and answer with ours (taken before
    /// the merge).
    public mutating func receivedPushPull(_ remote: SWIM.PushPullState, from: PeerAddress,
                                          now: Duration) -> (reply: SWIM.PushPullState, effects: [SWIM.Effect]) {
        let reply = pushPullState()
        merge(remote, now: now)
        return (reply, finish(now: now))
    }

    /// The push-pull this member opened with `from` returned the remote state.
    public mutating func pushPullCompleted(_ remote: SWIM.PushPullState, from: PeerAddress, now: Duration) -> [SWIM.Effect] {
        if seeds.contains(from) { seedIDs[from] = remote.sender }
        merge(remote, now: now)
        return finish(now: now)
    }

    /// Merges a remote full state. A remote "dead" becomes a local suspicion (the member gets a
    /// chance to refute, as after a healed partition); state learned while this member knew
    /// nobody is applied quietly (the cluster already knows it).
    mutating func merge(_ remote: SWIM.PushPullState, now: Duration) {
        checkForDuplicate(in: remote)
        let quiet = liveCount <= 1
        for state in remote.members {
            let rebroadcast = !quiet || state.id == remote.sender
            switch state.status {
            case .alive:
                apply(.alive(id: state.id, incarnation: state.incarnation, address: state.address, metadata: state.metadata),
                      now: now, rebroadcast: rebroadcast)
            case .suspect, .dead:
                if state.id == id {
                    apply(.suspect(id: id, incarnation: state.incarnation, accuser: remote.sender), now: now)
                } else {
                    suspectOnVerdict(state.id, incarnation: state.incarnation, accuser: remote.sender, now: now, rebroadcast: rebroadcast)
                }
            case .left:
                apply(.left(id: state.id, incarnation: state.incarnation), now: now, rebroadcast: rebroadcast)
            }
        }
        if quiet, liveCount > 1 { announcingProbes = max(announcingProbes, liveCount - 1) }
    }

    mutating func onPushPullTimer(now: Duration) {
        if !isLeaving, let partner = randomMembers(count: 1, where: { $0.status == .alive }).first {
            startPushPull(to: partner.address, isJoin: false)
        }
        arm(.pushPull, at: now + currentPushPullInterval)
    }

    // MARK: Reconnect and reaping

    /// Re-contacts one seed that is not a live member, or one member believed dead, so that
    /// two sides of a healed partition (or a member left alone) merge again.
    mutating func onReconnectTimer(now: Duration) {
        if !isLeaving {
            var candidates: [PeerAddress] = seeds.filter { seed in
                guard let seedID = seedIDs[seed], let member = table[seedID] else { return true }
                return !member.status.isLive || member.address != seed
            }
            let dead = tombstones.keys.filter { table[$0]?.status == .dead }.sorted()
            if !dead.isEmpty, let member = table[dead[Int.random(in: 0..<dead.count, using: &random)]] {
                candidates.append(member.address)
            }
            if !candidates.isEmpty {
                startPushPull(to: candidates[Int.random(in: 0..<candidates.count, using: &random)], isJoin: liveCount <= 1)
            }
        }
        arm(.reconnect, at: now + currentReconnectInterval)
    }

    /// Forgets dead and left members after `tombstoneTimeout`.
    mutating func onReapTimer(now: Duration) {
        let expired = tombstones.filter { now - $0.value >= settings.tombstoneTimeout }.keys.sorted()
        for member in expired {
            tombstones[member] = nil
            suspicions[member] = nil
            broadcasts.drop(about: member)
            table.remove(member)
        }
        arm(.reap, at: now + settings.reapInterval)
    }
}
