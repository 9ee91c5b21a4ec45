import DiscoCore
import DiscoNet

// MARK: - Executing the engine's effects

extension BootstrapShell {
    /// Executes effects in order. Persistence completes before anything after it is sent; the
    /// bootstrap closure is awaited before `finished` is reported.
    func apply(_ effects: [BootstrapEffect]) async {
        for effect in effects {
            switch effect {
            case .lookup:
                let lookup = hooks.lookup
                spawn { await self.lookupDone(await lookup()) }
            case .join(let targets):
                let (client, request, timeout) = (client, configuration.joinRequest, configuration.joinTimeout)
                spawn { await self.joinDone(await client.join(targets: targets, request: request, timeout: timeout)) }
            case .notify(let targets, let request):
                // Every target at once, each on its own clock: a silent one costs only its timeout.
                let (client, timeout) = (client, configuration.notifyTimeout)
                for target in targets {
                    spawn { await self.notifyDone(target, await client.notifyResult(target, request, timeout: timeout)) }
                }
            case .propose(let proposal, let peers):
                // Recorded by the effect before it: a proposal whose record failed is not sent.
                if let persistFailure {
                    await apply(engine.proposalNotRecorded(proposal.id, reason: persistFailure, now: now()))
                    continue
                }
                let (client, timeout) = (client, configuration.requestTimeout)
                for peer in peers {
                    spawn { await self.proposalDone(peer, proposal.id, await client.propose(proposal, to: peer, timeout: timeout)) }
                }
            case .abandon(let id, let peers):
                let (client, timeout) = (client, configuration.requestTimeout)
                for peer in peers {
                    spawn { _ = await client.abandon(id, to: peer, timeout: timeout) }
                }
            case .askStatus(let id, let proposer):
                let (client, timeout) = (client, configuration.requestTimeout)
                spawn { await self.statusDone(id, await client.status(of: id, proposer: proposer, timeout: timeout)) }
            case .persistPromise(let proposal):
                persist(proposal)
            case .bootstrap(let voters):
                await runBootstrap(voters)
            case .scheduleRound(let delay):
                scheduleRound(after: delay)
            case .log(let message):
                logger.info(message)
            case .finished(let outcome):
                if let bootstrapFailure {
                    conclude(.failure(BootstrapShellError(.bootstrapFailed, detail: bootstrapFailure)))
                } else {
                    conclude(.success(outcome))
                }
            }
        }
        refreshProgress()
    }

    func persist(_ proposal: Proposal?) {
        do {
            try configuration.promiseFile.save(proposal)
            persistFailure = nil
        } catch {
            persistFailure = error.description
            recordError(error.description)
            logger.error("bootstrap: could not record the promise: \(error)")
        }
    }

    func runBootstrap(_ voters: [BootstrapPeer]) async {
        logger.info("bootstrap: creating the cluster with voters [\(voters.map(\.description).joined(separator: ", "))]")
        do {
            try await hooks.bootstrap(voters)
        } catch {
            bootstrapFailure = "\(error)"
            recordError("bootstrap failed: \(error)")
            logger.error("bootstrap: creating the cluster failed: \(error)")
        }
    }

    func scheduleRound(after delay: Duration) {
        guard !stopped else { return }
        roundTask?.cancel()
        roundTask = Task {
            do {
                try await Task.sleep(for: delay, clock: .continuous)
            } catch {
                return
            }
            await self.roundFired()
        }
    }

    // MARK: Answers

    func roundFired() async {
        guard !stopped else { return }
        await apply(engine.roundTimerFired(now: now()))
    }

    func lookupDone(_ result: Result<[PeerAddress], DiscoveryLookupFailure>) async {
        if case .failure(let failure) = result { recordError("discovery: \(failure.message)") }
        await apply(engine.lookupCompleted(result, now: now()))
    }

    func joinDone(_ result: JoinResult) async {
        let outcome: JoinOutcome
        switch result {
        case .joined(let accepted, let target):
            joined = accepted
            report(accepted.leader.peer)
            logger.info("bootstrap: joined cluster \(accepted.cluster.debugDescription) (epoch \(accepted.epoch)) via \(target); leader \(accepted.leader)")
            outcome = .joined
        case .refused(let error):
            recordProblem(error)
            outcome = .noCluster
        case .failed(let failures):
            for failure in failures {
                if failure.code.isConfigurationProblem { recordProblem(failure) } else { logger.debug("bootstrap: no join via \(failure)") }
            }
            outcome = .noCluster
        }
        await apply(engine.joinCompleted(outcome, now: now()))
    }

    func notifyDone(_ target: PeerAddress, _ result: Result<NotifyReply, BootstrapClientError>) async {
        var reply: NotifyReply?
        switch result {
        case .success(let answer):
            reply = answer
            switch answer {
            case .forming(let responder, let known):
                report(responder)
                known.forEach { report($0) }
            case .clustered(let responder):
                report(responder)
            case .mismatch(let message):
                recordProblem(BootstrapClientError(.refused, target: target.withoutScheme.description, detail: "refused our notify: \(message)"))
            }
        case .failure(let error) where error.code.isConfigurationProblem:
            recordProblem(error)
        case .failure(let error):
            logger.debug("bootstrap: notify to \(target) failed: \(error)")
        }
        await apply(engine.notifyAnswered(target: target, reply: reply, now: now()))
    }

    func proposalDone(_ peer: BootstrapPeer, _ id: ProposalID, _ result: Result<ProposalReply, BootstrapClientError>) async {
        var reply: ProposalReply?
        switch result {
        case .success(let answer): reply = answer
        case .failure(let error): logger.debug("bootstrap: proposal \(id) to \(peer) got no answer: \(error)")
        }
        await apply(engine.proposalAnswered(from: peer.id, id: id, reply: reply, now: now()))
    }

    func statusDone(_ id: ProposalID, _ result: Result<ProposalStatus, BootstrapClientError>) async {
        var status: ProposalStatus?
        switch result {
        case .success(let answer): status = answer
        case .failure(let error): logger.debug("bootstrap: proposer of \(id) did not say what became of it: \(error)")
        }
        await apply(engine.statusAnswered(id, status: status, now: now()))
    }
}
