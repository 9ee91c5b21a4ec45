import DiscoCore

// MARK: - Inputs

extension LeaseHolder {
    /// The timer fired (or any time): steps down at the deadline and renews when due.
    public mutating func tick(now: Duration) -> [Effect] {
        var effects: [Effect] = []
        expireIfDue(now: now, into: &effects)
        renewIfDue(now: now, into: &effects)
        releasePredecessorIfDue(now: now, into: &effects)
        return finish(now: now, effects)
    }

    /// The node applied a change of the group's replicated state (or restored it from a snapshot).
    public mutating func applied(_ state: LeaseState, now: Duration) -> [Effect] {
        var effects: [Effect] = []
        expireIfDue(now: now, into: &effects)
        let previous = lease
        lease = state
        if let token = heldToken, state.holder != me || state.token != token {
            stepDown(.superseded, now: now, into: &effects)
        }
        if let draining = drainingToken, state.holder != me || state.token != draining {
            drainingToken = nil  // the lease moved on: nothing left to release
        }
        if claimedByPredecessor {
            // Claimed by an earlier process of this node, which may still be hot: wait out its
            // renew deadline from this renewal before giving the lease up (``predecessorWait``).
            if predecessorClaim?.lastChange != state.lastChange {
                predecessorClaim = (state.lastChange, now + predecessorWait, false)
            }
        } else {
            predecessorClaim = nil
            if state.holder == me, state.token > 0, releasedToken != state.token {
                if drainingToken == state.token {
                    // Waiting for the writes in flight: renewing, releasing after writesDrained.
                } else if let target = state.moveTo, target != me {
                    let held = heldToken
                    stepDown(.moved, now: now, into: &effects)
                    handOver(held: held, now: now, into: &effects)
                } else if !healthy || stopped {
                    release(now: now, into: &effects)
                } else if previous.holder != me || previous.token != state.token || nextRenewal == nil {
                    nextRenewal = now  // newly granted (or resumed): renew at once to become hot
                }
            }
        }
        if !mayRenew { nextRenewal = nil }
        renewIfDue(now: now, into: &effects)
        releasePredecessorIfDue(now: now, into: &effects)
        return finish(now: now, effects)
    }

    /// A renewal sent at local time `sentAt` for `token` was applied as a renewal.
    public mutating func renewed(token: UInt64, sentAt: Duration, now: Duration) -> [Effect] {
        var effects: [Effect] = []
        expireIfDue(now: now, into: &effects)
        let until = sentAt + settings.renewDeadline
        // A draining holder's renewals only keep the lease: it never acts again with that token.
        if mayRenew, drainingToken == nil, token == lease.token, sentAt >= coldSince, now < until {
            switch phase {
            case .cold:
                phase = .hot(token: token, until: until)
                effects.append(.becomeHot(token: token))
            case .hot(let current, let previousUntil):
                if current == token, until > previousUntil { phase = .hot(token: token, until: until) }
            case .suspended(let current, _):
                // The compare-and-set committed: nobody was granted since the last renewal.
                if current == token {
                    phase = .hot(token: token, until: until)
                    effects.append(.resume(token: token))
                }
            }
        }
        return finish(now: now, effects)
    }

    /// A renewal sent at `sentAt` for `token` was not applied: refused (`refusal`), or its fate is
    /// unknown (nil: no leader, lost, timed out). A refusal while hot with that token means the
    /// lease moved on: this replica becomes cold at once.
    public mutating func renewalFailed(token: UInt64, sentAt: Duration, refusal: LeaseRefusal?, now: Duration) -> [Effect] {
        var effects: [Effect] = []
        expireIfDue(now: now, into: &effects)
        if refusal != nil, heldToken == token {
            stepDown(.superseded, now: now, into: &effects)
        }
        if refusal != nil, drainingToken == token { drainingToken = nil }
        return finish(now: now, effects)
    }

    /// The upstream's health changed. Unhealthy: a hot replica becomes cold, and a holder
    /// releases the lease so another replica can be granted without waiting for the ttl.
    public mutating func healthChanged(_ healthy: Bool, now: Duration) -> [Effect] {
        var effects: [Effect] = []
        expireIfDue(now: now, into: &effects)
        self.healthy = healthy
        if !healthy {
            stepDown(.unhealthy, now: now, into: &effects)
            drainingToken = nil  // writes to an upstream failing its checks are not waited for
            if lease.holder == me, releasedToken != lease.token { release(now: now, into: &effects) }
        }
        nextRenewal = mayRenew ? now : nil
        renewIfDue(now: now, into: &effects)
        return finish(now: now, effects)
    }

    /// The node learned of a new Raft leader: a holder renews at once instead of waiting out its
    /// period, so a leader election costs as little of the deadline as possible.
    public mutating func leaderChanged(now: Duration) -> [Effect] {
        var effects: [Effect] = []
        expireIfDue(now: now, into: &effects)
        if mayRenew { nextRenewal = now }
        renewIfDue(now: now, into: &effects)
        return finish(now: now, effects)
    }

    /// The process is shutting down: becomes cold, then releases the lease it holds — after its
    /// writes in flight when it held the token (``Effect/awaitWritesInFlight(token:)``).
    public mutating func stop(now: Duration) -> [Effect] {
        var effects: [Effect] = []
        let held = heldToken
        stepDown(.stopping, now: now, into: &effects)
        stopped = true
        if lease.holder == me, lease.token > 0, releasedToken != lease.token, drainingToken != lease.token {
            handOver(held: held, now: now, into: &effects)
        }
        guard drainingToken != nil else {
            nextRenewal = nil
            return effects
        }
        return finish(now: now, effects)
    }

    /// The writes passed on with `token` before a graceful hand-over have answered, or the shell
    /// stopped waiting for them: the holder releases the lease (unless it moved on meanwhile).
    public mutating func writesDrained(token: UInt64, now: Duration) -> [Effect] {
        var effects: [Effect] = []
        guard drainingToken == token else { return finish(now: now, effects) }
        drainingToken = nil
        if lease.holder == me, lease.token == token, releasedToken != token { release(now: now, into: &effects) }
        if !mayRenew { nextRenewal = nil }
        return finish(now: now, effects)
    }

    // MARK: Steps

    /// Hot past the deadline: suspended; suspended past the point where another replica may
    /// have been granted: cold.
    mutating func expireIfDue(now: Duration, into effects: inout [Effect]) {
        if case .hot(let token, let until) = phase, now >= until {
            phase = .suspended(token: token, lastSent: until - settings.renewDeadline)
            effects.append(.suspend(token: token))
        }
        if let coldAt = suspendedUntil, now >= coldAt { stepDown(.expired, now: now, into: &effects) }
    }

    mutating func stepDown(_ reason: ColdReason, now: Duration, into effects: inout [Effect]) {
        guard let token = heldToken else { return }
        phase = .cold
        coldSince = now
        effects.append(.becomeCold(token: token, reason: reason))
    }

    /// After stepping down for a move or a stop: a holder that held the lease's token (`held`)
    /// first waits for its writes in flight, renewing meanwhile; any other releases at once.
    mutating func handOver(held: UInt64?, now: Duration, into effects: inout [Effect]) {
        guard let held, held == lease.token, !claimedByPredecessor else {
            release(now: now, into: &effects)
            return
        }
        drainingToken = held
        if nextRenewal == nil { nextRenewal = now }
        effects.append(.awaitWritesInFlight(token: held))
    }

    /// Releases this process's own claim (or an unclaimed grant); never an earlier process's
    /// claim, which only ``releasePredecessorIfDue(now:into:)`` releases, after the wait.
    mutating func release(now: Duration, into effects: inout [Effect]) {
        nextRenewal = nil
        guard !claimedByPredecessor, let holder = lease.holder else { return }
        releasedToken = lease.token
        effects.append(.proposeRelease(.release(group, holder: holder, token: lease.token, incarnation: incarnation)))
    }

    /// Proposes the release of an earlier process's claim once ``predecessorWait`` passed since
    /// this process first applied the claim's latest change, as a compare-and-set on that change.
    mutating func releasePredecessorIfDue(now: Duration, into effects: inout [Effect]) {
        guard let claim = predecessorClaim, !claim.proposed, now >= claim.releaseAt, claimedByPredecessor,
              lease.lastChange == claim.lastChange, let holder = lease.holder else { return }
        predecessorClaim?.proposed = true
        effects.append(.proposeRelease(.release(group, holder: holder, token: lease.token, incarnation: incarnation,
                                                ifLastChange: claim.lastChange)))
    }

    mutating func renewIfDue(now: Duration, into effects: inout [Effect]) {
        guard mayRenew, let due = nextRenewal, now >= due else { return }
        effects.append(.proposeRenewal(.renew(group, holder: me, incarnation: incarnation, token: lease.token, ttl: settings.ttl),
                                        sentAt: now))
        nextRenewal = now + settings.renewPeriod
    }

    /// Appends the timer for the earliest of the deadline and the next renewal.
    func finish(now: Duration, _ effects: [Effect]) -> [Effect] {
        var deadline: Duration?
        if case .hot(_, let until) = phase { deadline = until }
        if let coldAt = suspendedUntil { deadline = coldAt }
        if let due = nextRenewal, mayRenew { deadline = min(deadline ?? due, due) }
        if let releaseAt = predecessorReleaseAt { deadline = min(deadline ?? releaseAt, releaseAt) }
        guard let deadline else { return effects }
        return effects + [.arm(deadline: deadline)]
    }
}
