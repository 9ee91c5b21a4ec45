import DiscoCore

// MARK: - Handling events

extension ShellDriver {
    func handle(_ event: ShellEvent) {
        switch event {
        case .message(let message):
            node.receive(message)
        case .tick:
            node.tick()
            tickTransfers()
            tidyStrangers()
        case .campaign:
            node.campaign()
        case .propose(let data, let request):
            guard admit(request) else { return }
            guard data.count <= RaftCodec.maxDataSize else {
                request.resume(throwing: RaftShellError(
                    .invalidArgument, "proposal of \(data.count) bytes exceeds the limit of \(RaftCodec.maxDataSize)"))
                return
            }
            do {
                track(try node.propose(data), request)
            } catch {
                request.resume(throwing: RaftShellError(error, leader: node.leader))
            }
        case .configChange(let change, let request):
            guard admit(request) else { return }
            do {
                track(try node.proposeConfigChange(change), request)
            } catch {
                request.resume(throwing: RaftShellError(error, leader: node.leader))
            }
        case .read(let request):
            guard admit(request) else { return }
            nextReadContext += 1
            reads[nextReadContext] = request
            node.readIndex(context: nextReadContext)
        case .transfer(let target, let request):
            guard shutdownTicksLeft == nil else {
                request.resume(throwing: RaftShellError(.shutDown, "the node is shutting down"))
                return
            }
            startTransfer(to: target, request)
        case .bootstrap(let voters, let request):
            bootstrap(voters: voters, request)
        case .shutdown(let transfer):
            beginShutdown(transfer: transfer)
        }
    }

    // MARK: Bootstrap

    /// Writes the founding state of a new cluster into empty storage and starts a core from it.
    private func bootstrap(voters: [NodeID], _ request: PendingRequest<Void>) {
        guard shutdownTicksLeft == nil else {
            request.resume(throwing: RaftShellError(.shutDown, "the node is shutting down"))
            return
        }
        guard !node.hasState else {
            request.resume(throwing: RaftShellError(
                .alreadyHasState,
                "this node already has Raft state (term \(node.term), last index \(node.lastIndex)); it cannot bootstrap again",
                leader: node.leader))
            return
        }
        let state = PersistentState.bootstrap(voters: voters)
        do {
            try storage.initialize(with: state)
        } catch {
            let reason = "writing the bootstrap state to \(storage.directory) failed: \(error)"
            stop(because: reason)
            request.resume(throwing: RaftShellError(.storage, reason))
            return
        }
        do {
            node = try RaftNode(id: node.id, options: node.options, state: state, random: node.random)
        } catch {
            // The options were valid when the node started and the state is well formed.
            let reason = "starting the bootstrapped core failed: \(error)"
            stop(because: reason)
            request.resume(throwing: RaftShellError(.storage, reason))
            return
        }
        logger.info("bootstrapped a new cluster with voters \(node.config.voters.map(\.rawValue))")
        request.resume()
    }

    /// Refuses new requests once shutdown began, and drops those whose caller stopped waiting
    /// before the driver reached them (a cancelled proposal is not proposed).
    private func admit(_ request: PendingRequest<UInt64>) -> Bool {
        guard !request.isAnswered else { return false }
        guard shutdownTicksLeft == nil else {
            request.resume(throwing: RaftShellError(.shutDown, "the node is shutting down", leader: node.leader))
            return false
        }
        return true
    }

    private func track(_ index: UInt64, _ request: PendingRequest<UInt64>) {
        // An older proposal at this index was truncated by a leader change: it is gone for good.
        proposals[index]?.request.resume(throwing: RaftShellError(
            .dropped, "leadership changed, entry \(index) was not committed (a new leader replaced it)", leader: node.leader))
        proposals[index] = (node.term, request)
    }

    // MARK: Reads

    func answerRead(_ state: ReadState) {
        guard let request = reads.removeValue(forKey: state.context) else { return }
        switch state.outcome {
        case .ready(let index):
            readsAwaitingApply.append((index, request))
        case .notLeader(let leader):
            request.resume(throwing: RaftShellError(
                .notLeader, "\(node.id) is not the leader; linearizable reads are served by the leader", leader: leader))
        }
    }

    /// Answers confirmed reads whose index the state machine has reached.
    func releaseReads() {
        guard !readsAwaitingApply.isEmpty else { return }
        let applied = node.appliedIndex
        let ready = readsAwaitingApply.filter { $0.index <= applied }
        readsAwaitingApply.removeAll { $0.index <= applied }
        for read in ready { read.request.resume(returning: read.index) }
    }

    // MARK: Leadership transfer

    /// The voter with the most of the log, other than this node.
    private var bestTransferTarget: NodeID? {
        node.config.voters.filter { $0 != node.id }
            .max { (node.matchIndex(of: $0) ?? 0) < (node.matchIndex(of: $1) ?? 0) }
    }

    private func startTransfer(to requested: NodeID?, _ request: PendingRequest<NodeID>) {
        guard let target = requested ?? bestTransferTarget else {
            request.resume(throwing: RaftShellError(.invalidArgument, "there is no other voter to hand leadership to"))
            return
        }
        do {
            try node.transferLeadership(to: target)
        } catch {
            request.resume(throwing: RaftShellError(error, leader: node.leader))
            return
        }
        if target == node.id {
            request.resume(returning: target)
            return
        }
        transfers.append((target, request, node.options.electionTicks + 2))
    }

    private func tickTransfers() {
        for position in transfers.indices { transfers[position].ticksLeft -= 1 }
        let expired = transfers.filter { $0.ticksLeft <= 0 }
        transfers.removeAll { $0.ticksLeft <= 0 }
        for transfer in expired {
            transfer.request.resume(throwing: RaftShellError(
                .transferFailed, "\(transfer.target) did not take over within an election timeout", leader: node.leader))
        }
        if let left = shutdownTicksLeft, left > 0 { shutdownTicksLeft = left - 1 }
    }

    // MARK: Shutdown

    private func beginShutdown(transfer: Bool) {
        guard shutdownTicksLeft == nil else { return }
        shutdownTicksLeft = 0
        guard transfer, node.role == .leader, let target = bestTransferTarget else { return }
        do {
            try node.transferLeadership(to: target)
            shutdownTicksLeft = node.options.electionTicks + 2
            logger.info("shutting down: handing leadership to \(target)")
        } catch {
            logger.warning("shutting down without handing over leadership: \(error)")
        }
    }

    /// Stops the loop once shutdown was asked for and any hand-over finished (or timed out).
    func checkShutdown() {
        guard let left = shutdownTicksLeft else { return }
        guard left == 0 || node.role != .leader else { return }
        do {
            try storage.sync()
        } catch {
            logger.error("final sync of \(storage.directory) failed: \(error)")
        }
        stopped = true
    }
}
