import DiscoCore
import LeaseCore

// MARK: - The lease loop

extension HotColdLease {
    /// Runs the shell until ``stop()`` completes or the calling task is cancelled. Call it once.
    public func run() async {
        let (hookStream, hookContinuation) = AsyncStream<HotColdHookInvocation>.makeStream()
        let (fileStream, fileContinuation) = AsyncStream<HotColdStatus>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let (announceStream, announceContinuation) = AsyncStream<LeaseCandidate>.makeStream(bufferingPolicy: .bufferingNewest(1))
        hookInvocations = hookContinuation
        stateFileUpdates = fileContinuation
        announcements = announceContinuation
        let hooks = HotColdHooks(onHot: configuration.onHot, onCold: configuration.onCold, timeout: configuration.hookTimeout,
                                 logger: logger, metrics: metrics)
        let stateFile = configuration.stateFile.map { HotColdStateFile(path: $0, logger: logger, metrics: metrics) }
        let store = store
        let group = configuration.group
        logger.info("hot/cold replica starting cold", metadata: [
            "group": "\(group)", "priority": "\(configuration.priority)", "may_be_hot": "\(configuration.mayBeHot)",
            "incarnation": "\(incarnation)",
        ])

        await withTaskGroup(of: Void.self) { workers in
            // These outlive the lease loop so the last hook and state file write still happen.
            workers.addTask { await hooks.run(hookStream) }
            if let stateFile { workers.addTask { await stateFile.run(fileStream) } }
            announce()
            publishStatus()
            await withTaskGroup(of: Void.self) { loop in
                let input = input
                loop.addTask {
                    await store.deliverEvents(for: group) { input.yield(.store($0)) }
                }
                // The announcer ends with the loop (cancelled): a store that cannot reach a
                // leader any more must not keep a stopping shell alive.
                loop.addTask {
                    for await candidate in announceStream { await store.announce(candidate, in: group) }
                }
                // Candidacies left from a group this node served before it moved to this one.
                loop.addTask { await store.withdrawCandidacies(exceptIn: group) }
                for await next in inputs {
                    if case .pause = next {
                        for await _ in resumes { break }
                        continue
                    }
                    for job in handle(next) {
                        loop.addTask { await self.perform(job) }
                    }
                    if stopping, pendingReleases == 0, holder.drainingToken == nil { break }
                }
                loop.cancelAll()
            }
            finish()
        }
    }

    /// After the loop: a shell that ends without stopping (cancelled) closes its gate too.
    private func finish() {
        if gate.fencingToken() != nil || gate.status().state != .cold {
            gate.markCold(reason: .stopping, now: .now, wallNanoseconds: wallClock.now())
            publishStatus()
        }
        hookInvocations?.finish()
        stateFileUpdates?.finish()
        announcements?.finish()
        logger.info("hot/cold replica stopped", metadata: ["group": "\(configuration.group)"])
    }

    // MARK: Handling one input

    /// Feeds `next` to the cores and performs their effects; returns the work for child tasks.
    func handle(_ next: Input) -> [Job] {
        var jobs: [Job] = []
        let now = local(.now)
        switch next {
        case .store(.applied(let state, let appliedAt)):
            grantor.applied(state, now: min(local(appliedAt), now))
            apply(holder.applied(state, now: now), into: &jobs)
            gate.updateStatus { status in
                status.holder = state.holder
                status.leaseToken = state.token
            }
        case .store(.leader(let info)):
            let newLeader = info.leader != leader.leader && info.leader != nil
            if let other = info.leader, !info.isSelf { lastOtherLeader = other }
            leader = info
            if newLeader { apply(holder.leaderChanged(now: now), into: &jobs) }
        case .store(.candidates(let list)):
            candidates = list
        case .tick(let deadline):
            pendingWakeups.remove(deadline)
            apply(holder.tick(now: now), into: &jobs)
        case .renewalAnswered(let token, let sentAt, let outcome):
            apply(answer(token: token, sentAt: sentAt, outcome, now: now), into: &jobs)
        case .releaseAnswered(let command, let outcome):
            pendingReleases -= 1
            logger.debug("release \(outcome)", metadata: ["command": "\(command)"])
        case .grantAnswered(let command, let outcome):
            logger.debug("grant \(outcome)", metadata: ["command": "\(command)"])
        case .writesDrained(let token, let left):
            guard holder.drainingToken == token else { break }  // the wait ended otherwise (unhealthy, superseded)
            if left > 0 {
                logger.warning("releasing the lease with writes still in flight after the drain timeout", metadata: [
                    "group": "\(configuration.group)", "token": "\(token)", "writes": "\(left)",
                    "drain_timeout": "\(GoDuration.format(configuration.drainTimeout))",
                ])
            } else {
                logger.info("writes in flight answered; releasing the lease", metadata: ["group": "\(configuration.group)", "token": "\(token)"])
            }
            apply(holder.writesDrained(token: token, now: now), into: &jobs)
        case .health(let isHealthy):
            guard isHealthy != healthy else {
                if isHealthy { gate.closeForUnhealthyUpstream(false) }
                return jobs
            }
            healthy = isHealthy
            logger.info(isHealthy ? "upstream healthy: eligible to be hot" : "upstream unhealthy: stepping down",
                        metadata: ["group": "\(configuration.group)"])
            apply(holder.healthChanged(isHealthy, now: now), into: &jobs)
            if isHealthy { gate.closeForUnhealthyUpstream(false) }
            gate.updateStatus { $0.healthy = isHealthy }
            announce()
        case .stop:
            stopping = true
            apply(holder.stop(now: now), into: &jobs)
        case .pause:
            break
        }
        updateGranting(now: now, into: &jobs)
        decideGrant(now: now, into: &jobs)
        return jobs
    }

    /// The holder's input for a renewal's outcome.
    private func answer(token: UInt64, sentAt: Duration, _ outcome: LeaseProposalOutcome, now: Duration) -> [LeaseHolder.Effect] {
        switch outcome {
        case .applied(.renewed(_, _, let renewedToken)) where renewedToken == token:
            metrics.recordRenewal(.renewed)
            return holder.renewed(token: token, sentAt: sentAt, now: now)
        case .applied(.refused(_, let refusal)):
            metrics.recordRenewal(.refused)
            logger.debug("renewal refused: \(refusal)", metadata: ["token": "\(token)"])
            return holder.renewalFailed(token: token, sentAt: sentAt, refusal: refusal, now: now)
        case .applied, .unknown:
            metrics.recordRenewal(.unknown)
            return holder.renewalFailed(token: token, sentAt: sentAt, refusal: nil, now: now)
        }
    }

    /// Works out whether this node grants for the group: as the Raft leader, or as a replica of
    /// a group the leader runs no replica of (``LeaseGrantor/grants(isLeader:leader:candidates:)``)
    /// once the leader has shown no candidacy for a whole ttl — so a leader whose own candidacy
    /// this node has not applied yet (a cluster forming) still makes the first grant alone.
    private func updateGranting(now: Duration, into jobs: inout [Job]) {
        let leaderRunsNone = !leader.isSelf && LeaseGrantor.grants(isLeader: false, leader: leader.leader, candidates: candidates)
        if !leaderRunsNone {
            leaderRunsNoneSince = nil
        } else if leaderRunsNoneSince == nil {
            leaderRunsNoneSince = now
        }
        var grants = leader.isSelf
        if let since = leaderRunsNoneSince {
            let from = since + configuration.lease.ttl
            if now >= from { grants = true } else { arm(from, into: &jobs) }
        }
        if grants != granting {
            logger.info(grants ? "deciding hot/cold grants" : "no longer deciding hot/cold grants",
                        metadata: ["group": "\(configuration.group)", "raft_leader": "\(leader.leader.map(\.rawValue) ?? "none")"])
        }
        if grants, !granting { grantor.leadershipGained(now: now, previousLeader: lastOtherLeader) }
        granting = grants
    }

    /// Lets the grantor decide (it does nothing unless this node grants for the group).
    private func decideGrant(now: Duration, into jobs: inout [Job]) {
        for effect in grantor.decide(now: now, isLeader: granting, candidates: candidates) {
            switch effect {
            case .proposeGrant(let command):
                metrics.recordGrantProposed()
                logger.info("proposing \(command)")
                jobs.append(.grant(command))
            case .arm(let deadline):
                arm(deadline, into: &jobs)
            }
        }
    }

    // MARK: Effects

    /// Performs the holder's effects, then brings the gate in line with its phase.
    private func apply(_ effects: [LeaseHolder.Effect], into jobs: inout [Job]) {
        let group = configuration.group
        for effect in effects {
            switch effect {
            case .proposeRenewal(let command, let sentAt):
                jobs.append(.renew(command, sentAt: sentAt))
            case .proposeRelease(let command):
                pendingReleases += 1
                metrics.recordReleaseProposed()
                jobs.append(.release(command))
            case .becomeHot(let token):
                metrics.recordHot()
                logger.notice("became hot", metadata: ["group": "\(group)", "token": "\(token)"])
                syncGate()
                hookInvocations?.yield(HotColdHookInvocation(state: .hot, token: token, group: group, node: node))
                observe(HotColdChange(group: group, node: node, state: .hot, token: token, reason: nil, wallNanoseconds: wallClock.now()))
                publishStatus()
            case .becomeCold(let token, let reason):
                metrics.recordCold(reason.description)
                logger.notice("became cold", metadata: ["group": "\(group)", "token": "\(token)", "reason": "\(reason)"])
                gate.markCold(reason: reason, now: .now, wallNanoseconds: wallClock.now())
                hookInvocations?.yield(HotColdHookInvocation(state: .cold, token: token, reason: reason, group: group, node: node))
                observe(HotColdChange(group: group, node: node, state: .cold, token: token, reason: reason, wallNanoseconds: wallClock.now()))
                publishStatus()
            case .suspend(let token):
                metrics.recordSuspended()
                logger.info("suspended: no renewal within the renew deadline; not acting, renewing",
                            metadata: ["group": "\(group)", "token": "\(token)"])
                publishStatus()
            case .resume(let token):
                logger.info("resumed: a renewal committed; acting again", metadata: ["group": "\(group)", "token": "\(token)"])
                syncGate()
                publishStatus()
            case .arm(let deadline):
                arm(deadline, into: &jobs)
            case .awaitWritesInFlight(let token):
                // The gate is closed (becomeCold came first), so no write joins those counted now.
                let inFlight = gate.writesInFlight
                if inFlight == 0 {
                    apply(holder.writesDrained(token: token, now: local(.now)), into: &jobs)
                } else {
                    logger.info("waiting for writes in flight before releasing the lease", metadata: [
                        "group": "\(group)", "token": "\(token)", "writes": "\(inFlight)",
                        "drain_timeout": "\(GoDuration.format(configuration.drainTimeout))",
                    ])
                    jobs.append(.drain(token: token))
                }
            }
        }
        syncGate()
    }

    /// Copies the holder's hot deadline into the gate (never later than the holder's own).
    private func syncGate() {
        guard case .hot(let token, let until) = holder.phase else { return }
        gate.markHot(token: token, until: instant(until), now: .now, wallNanoseconds: wallClock.now())
    }

    /// Makes sure a timer fires at or before local time `deadline`.
    private func arm(_ deadline: Duration, into jobs: inout [Job]) {
        if let earliest = pendingWakeups.min(), earliest <= deadline { return }
        pendingWakeups.insert(deadline)
        jobs.append(.wake(at: deadline))
    }

    /// Hands the current status to the state file writer.
    private func publishStatus() {
        stateFileUpdates?.yield(gate.status())
    }

    /// Tells the store this replica's candidacy.
    private func announce() {
        announcements?.yield(LeaseCandidate(node: node, priority: configuration.priority, healthy: healthy,
                                            mayBeHot: configuration.mayBeHot))
    }
}
