import DiscoCore
import DiscoNet

// MARK: - Performing the core's effects

extension SWIM.Shell {
    /// Performs `effects` in order; returns the push-pull exchanges it started (so ``join(seeds:)``
    /// can wait for them).
    @discardableResult
    func perform(_ effects: [SWIM.Effect]) -> [PushPullTask] {
        guard !isShutDown else { return [] }
        var started: [PushPullTask] = []
        for effect in effects {
            switch effect {
            case .send(let packet, let destination):
                stats.datagramsSent += 1
                outbox.yield(Outgoing(bytes: SWIM.WireCodec.encode(packet, label: outgoingLabel(to: destination)), destination: destination))
            case .arm(let timer, let deadline):
                schedule.arm(timer, at: deadline)
            case .event(let event):
                deliver(event)
            case .startPushPull(let destination, let state):
                started.append(startPushPull(with: destination, state: state))
            case .leaveCompleted:
                completeLeaveWaiters()
            case .nodeIDConflict(let conflict):
                report(conflict)
            }
        }
        rescheduleWake()
        return started
    }

    /// Hands `event` to ``events`` and logs it: joins (and returns), deaths and leaves at info
    /// level, as serf logs them, so the log at its default level says when gossip declared a
    /// member dead; suspicions, refutations and metadata updates, which come and go, at debug.
    func deliver(_ event: SWIM.MemberEvent) {
        let member = event.member
        let level: Logger.Level = switch event {
        case .joined, .dead, .left: .info
        case .suspect, .alive, .metadataUpdated: .debug
        }
        configuration.logger.log(level: level, "member \(event.name)", metadata: [
            "member": "\(member.id)", "address": "\(member.address)", "incarnation": "\(member.incarnation)",
        ])
        if case .dropped = eventSink.yield(event) { stats.eventsDropped += 1 }
    }

    /// Counts a node ID conflict and logs it at error level, at most once a minute per other
    /// address (`conflictLog`), with the number of reports held back since the last line.
    func report(_ conflict: SWIM.NodeIDConflict) {
        stats.nodeIDConflicts += 1
        let (log, suppressed) = conflictLog.shouldLog(conflict.otherAddress, at: now())
        guard log else { return }
        var metadata: Logger.Metadata = [
            "id": "\(conflict.id)", "address": "\(conflict.localAddress)", "other_address": "\(conflict.otherAddress)",
            "other_incarnation": "\(conflict.otherIncarnation)", "evidence": "\(conflict.evidence)",
        ]
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        configuration.logger.error("node ID conflict: another live process uses this node's ID at another address; "
                                   + "stop one of them or give it its own ID", metadata: metadata)
    }

    // MARK: Timers

    /// Keeps exactly one sleeping task aimed at the earliest armed deadline. A timer moved
    /// later leaves the task alone (it wakes early, finds nothing due and re-aims); a timer
    /// armed earlier replaces it.
    func rescheduleWake() {
        guard !isShutDown, let earliest = schedule.earliest else {
            wakeTask?.cancel()
            wakeTask = nil
            wakeDeadline = nil
            return
        }
        if wakeTask != nil, let current = wakeDeadline, current <= earliest { return }
        wakeTask?.cancel()
        wakeGeneration &+= 1
        let generation = wakeGeneration
        wakeDeadline = earliest
        let instant = origin.advanced(by: earliest)
        wakeTask = Task(executorPreference: loop) {
            do {
                try await Task.sleep(until: instant, tolerance: .milliseconds(1), clock: .continuous)
            } catch {
                return
            }
            await self.wake(generation: generation)
        }
    }

    /// The sleeping task woke: fire every due timer into the core.
    func wake(generation: Int) {
        if generation == wakeGeneration {
            wakeTask = nil
            wakeDeadline = nil
        }
        guard !isShutDown else { return }
        let now = now()
        for timer in schedule.takeDue(at: now) {
            stats.timersFired += 1
            perform(core.timerFired(timer, now: now))
        }
        rescheduleWake()
    }

    // MARK: Push-pull results

    /// Starts a push-pull exchange with `destination` as a task that feeds the answer back.
    func startPushPull(with destination: PeerAddress, state: SWIM.PushPullState) -> PushPullTask {
        let identifier = nextPushPullID
        nextPushPullID &+= 1
        let payload = SWIM.WireCodec.encode(state, label: outgoingLabel(to: destination))
        let expectedLabel = wireLabel?.name
        let timeout = configuration.pushPullTimeout
        let maxBytes = configuration.maxPushPullBytes
        let group = self.group
        let protection = self.protection
        let transport = configuration.pushPullConnectTransport
        let task = PushPullTask(executorPreference: loop) {
            let result = await Self.exchange(payload, with: destination, timeout: timeout, maxBytes: maxBytes, protection: protection,
                                             expectedLabel: expectedLabel, group: group, transport: transport)
            return await self.finishPushPull(identifier, with: destination, result: result)
        }
        pushPulls[identifier] = task
        return task
    }

    func finishPushPull(_ identifier: Int, with destination: PeerAddress,
                        result: Result<SWIM.PushPullState, SWIM.ShellError>) -> Result<Void, SWIM.ShellError> {
        pushPulls[identifier] = nil
        guard !isShutDown else { return .failure(SWIM.ShellError(.shutDown, "push-pull with \(destination) ended by shutdown")) }
        switch result {
        case .success(let remote):
            stats.pushPullsCompleted += 1
            perform(core.pushPullCompleted(remote, from: destination, now: now()))
            return .success(())
        case .failure(let error):
            stats.pushPullsFailed += 1
            if error.code == .otherCluster {
                countClusterRefusal(error, with: destination)
            } else if error.code == .pushPullRefused {
                stats.pushPullsRefused += 1
                let (log, suppressed) = refusalLog.shouldLog(at: now())
                if log {
                    var metadata: Logger.Metadata = ["peer": "\(destination)", "error": "\(error.detail)"]
                    if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
                    configuration.logger.error("push-pull refused: the other member cannot use our gossip", metadata: metadata)
                }
            } else {
                configuration.logger.debug("push-pull failed", metadata: ["peer": "\(destination)", "error": "\(error.detail)"])
            }
            return .failure(error)
        }
    }

    /// Merges a state another member pushed; returns ours (taken before the merge) to answer
    /// with, or nil once shut down.
    func mergePushed(_ remote: SWIM.PushPullState, from peer: PeerAddress) -> SWIM.PushPullState? {
        guard !isShutDown else { return nil }
        let (reply, effects) = core.receivedPushPull(remote, from: peer, now: now())
        stats.pushPullsAnswered += 1
        perform(effects)
        return reply
    }
}

extension SWIM.MemberEvent {
    /// A short name for logs and output: joined, suspect, alive, dead, left, updated.
    public var name: String {
        switch self {
        case .joined: "joined"
        case .suspect: "suspect"
        case .alive: "alive"
        case .dead: "dead"
        case .left: "left"
        case .metadataUpdated: "updated"
        }
    }
}
