import DiscoCore
import Synchronization

// MARK: - Running

extension EtcdConsensusLog {
    /// Renews the lease, campaigns for leadership and follows etcd until cancelled. Failures of
    /// etcd are retried (``Status/lastError`` says what failed); the node recovers by itself
    /// when etcd returns.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.followLoop() }
            group.addTask { await self.leadershipLoop() }
            await group.waitForAll()
        }
    }

    // MARK: Lease and leadership

    /// Holds a lease (with this node's member record attached), campaigns under it, and starts
    /// over with a new lease when it is lost.
    func leadershipLoop() async {
        // The lease the member record was last written under: a failed write is retried under
        // the same lease, not skipped for as long as the lease lives.
        var recordedUnder: Int64?
        while !Task.isCancelled, !state.withLock({ $0.stopped }) {
            do throws(EtcdError) {
                let held = keeper.leaseID
                let lease = if let held { held } else { try await keeper.grant() }
                if recordedUnder != lease {
                    try await client.put(keys.member(localID), configuration.memberRecord, lease: lease)
                    recordedUnder = lease
                    noteSuccess()
                }
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { _ = await self.keeper.run() }
                    group.addTask { await self.campaignAndLead() }
                    // Whichever ends first (lease lost, or leadership lost) ends this lease's round.
                    _ = await group.next()
                    group.cancelAll()
                }
                state.withLock { $0.leadership = nil }
                publishLeadership()
            } catch {
                noteError(error)
            }
            do { try await Task.sleep(for: configuration.retryInterval) } catch { return }
        }
    }

    /// Campaigns until this node leads, then holds leadership while the lease stays valid.
    func campaignAndLead() async {
        while !Task.isCancelled {
            // Only voters lead: one removed while it campaigned leaves etcd's election line.
            guard mayLead else {
                await withdrawIfNotVoter()
                try? await Task.sleep(for: configuration.retryInterval)
                continue
            }
            do throws(EtcdError) {
                let won = try await election.campaign(value: Array(localID.rawValue.utf8), keeper: keeper)
                guard mayLead else { continue }
                // Read seq before acting: appends compare its mod revision.
                let seq = try await client.get(keys.seq)
                state.withLock { state in
                    state.leadership = won
                    if let seq, seq.modRevision >= state.seqModRevision {
                        state.seqModRevision = seq.modRevision
                        state.lastIndex = UInt64(seq.text) ?? state.lastIndex
                    }
                    state.candidates[won.key] = state.candidates[won.key]
                        ?? EtcdKeyValue(key: won.key, value: Array(localID.rawValue.utf8), createRevision: won.revision,
                                        modRevision: won.revision, version: 1, lease: won.lease)
                }
                noteSuccess()
                publishLeadership()
                // Leading: the lease keeper's deadline and the election key decide how long.
                while !Task.isCancelled, keeper.leaseID == won.lease, state.withLock({ $0.leadership == won }), mayLead {
                    try? await Task.sleep(for: max(.milliseconds(20), configuration.leaseTTL / 20))
                }
                return
            } catch {
                noteError(error)
                if case .leaseLost = error.kind { return }
                if Task.isCancelled { return }
                try? await Task.sleep(for: configuration.retryInterval)
            }
        }
    }

    /// A voter whose engine still applies the log (a failed one could not answer its proposals).
    var mayLead: Bool { state.withLock { $0.config.voters.contains(configuration.localID) && $0.failure == nil } }

    /// Deletes this node's election key once it is no longer a voter (or has failed), so that it never leads and
    /// the voters behind it move up.
    func withdrawIfNotVoter() async {
        guard let lease = keeper.leaseID, !mayLead else { return }
        let myKey = election.key(lease: lease)
        guard let mine = state.withLock({ $0.candidates[myKey] }) else { return }
        do throws(EtcdError) {
            _ = try await client.txn(EtcdTxn(compare: [EtcdCompare(myKey, .createRevision(mine.createRevision))], success: [.delete(key: myKey)]),
                                     operation: "withdraw \(myKey) from \(keys.electionPrefix)")
        } catch {
            noteError(error)
        }
    }

    /// Tells subscribers about a change of leader or term.
    func publishLeadership() {
        let current = status
        let published = EtcdMembershipLeader(term: current.term, leader: current.leader?.rawValue)
        let subscribers = state.withLock { state -> [LeadershipSubscriber] in
            guard state.lastPublished != published else { return [] }
            state.lastPublished = published
            return Array(state.subscribers.values)
        }
        let change = Leadership(term: current.term, leader: current.leader, isLocal: current.isLeader)
        for subscriber in subscribers { subscriber.yield(change) }
    }

    // MARK: Following etcd

    /// Reads the whole state, then watches it; after any failure (etcd down, compaction) reads
    /// it again.
    func followLoop() async {
        while !Task.isCancelled, !state.withLock({ $0.stopped }) {
            do throws(EtcdError) {
                let revision = try await resync()
                state.withLock { $0.synced = true }
                noteSuccess()
                let watch = EtcdWatch(client: client, prefix: keys.root, from: revision + 1)
                defer { watch.close() }
                while !Task.isCancelled {
                    let batch = try await watch.next()
                    for event in batch.events { try await handle(event) }
                    // Just became a member: read the log from the start (it was not applied before).
                    if finishBatch() { break }
                    await stepBackIfAsked()
                    await withdrawIfNotVoter()
                }
            } catch {
                if Task.isCancelled { return }
                noteError(error)
                state.withLock { $0.failedReads += 1 }
                try? await Task.sleep(for: configuration.retryInterval)
            }
        }
    }

    /// Reads every key under the root at one revision: restores a newer snapshot, applies the
    /// log after what was applied, and rebuilds the view of config, election and members.
    func resync() async throws(EtcdError) -> Int64 {
        let (kvs, revision) = try await readRoot()
        // The configuration first (whether this node is a member decides whether the log
        // applies), replacing the view in one step so no reader sees it half rebuilt. The read
        // is of `revision`: what this node wrote itself after it (its bootstrap, its election
        // key, a configuration change) stays, as the watch from the next revision brings it and
        // any later change of it. Before, a resync answered before this node's bootstrap and
        // taken in after it forgot the cluster: the node led one it said was not initialized.
        state.withLock { state in
            state.candidates = state.candidates.filter { $0.value.createRevision > revision }
            state.live = [:]
            state.transfer = nil
            if let known = state.clusterRevision, known <= revision {
                state.clusterRevision = nil
                state.clusterIdentity = nil
            }
            for kv in kvs where keys.logIndex(kv.key) == nil { absorb(.put(kv), into: &state) }
        }
        _ = finishBatch()
        if state.withLock({ $0.wasMember && $0.failure == nil }), let snapshot = try storedSnapshot(in: kvs), snapshot.index > state.withLock({ $0.appliedIndex }) {
            do {
                try applier.restore(snapshot.state)
                state.withLock { state in
                    state.appliedIndex = snapshot.index
                    state.snapshotIndex = snapshot.index
                    state.pending = state.pending.filter { $0.key > snapshot.index }
                }
                // The entries it covers are applied here now: their proposals are answered.
                releaseWaiters(through: snapshot.index)
            } catch {
                state.withLock { $0.failure = "the snapshot in \(keys.snapshot) does not restore: \(error)" }
                throw EtcdError(.malformed, endpoint: client.endpointList, operation: "restore \(keys.snapshot)", message: "\(error)")
            }
        }
        for kv in kvs where keys.logIndex(kv.key) != nil { try await handle(.put(kv)) }
        return revision
    }

    /// Every key under the root at one revision, in pages small enough for one HTTP answer:
    /// values (log entries, snapshot chunks) can be 1 MiB each, and the client refuses an answer
    /// over 64 MiB. A page holds about ``resyncPageBytes`` of what the last page's largest value
    /// suggests (at most twice the last page's keys); an answer still too large is asked again
    /// for half as many keys.
    func readRoot() async throws(EtcdError) -> (kvs: [EtcdKeyValue], revision: Int64) {
        var kvs: [EtcdKeyValue] = []
        var revision: Int64 = 0
        var from: String?
        var limit = 16
        while true {
            let page: EtcdRange
            do throws(EtcdError) {
                page = try await client.range(keys.root, limit: limit, revision: revision, fromKey: from)
            } catch {
                // An answer over the client's limit is "malformed"; fewer keys make it smaller.
                guard case .malformed = error.kind, limit > 1 else { throw error }
                limit /= 2
                continue
            }
            if revision == 0 { revision = page.revision }
            kvs += page.kvs
            guard page.more, let last = page.kvs.last else { return (kvs, revision) }
            from = last.key + "\u{0}"
            let largest = page.kvs.map { $0.key.utf8.count + $0.value.count }.max() ?? 1
            limit = max(1, min(1000, limit * 2, Self.resyncPageBytes / max(1, largest)))
        }
    }

    /// About how many bytes of keys and values one page of ``readRoot()`` asks for.
    static let resyncPageBytes = 8 << 20

    /// Takes one change into the view; log entries are applied in index order.
    func handle(_ event: EtcdWatchEvent) async throws(EtcdError) {
        let key = event.key
        if let index = keys.logIndex(key) {
            guard case .put(let kv) = event else { return }  // a trim after a snapshot
            // A node applies the log only as a member (as with Raft, where only members receive it).
            state.withLock { state in
                if index > state.appliedIndex, state.wasMember { state.pending[index] = (kv.modRevision, kv.value) }
            }
            try await applyPending()
            return
        }
        state.withLock { absorb(event, into: &$0) }
    }

    /// Takes a change of a key other than the log's into the view.
    func absorb(_ event: EtcdWatchEvent, into state: inout EngineState) {
        let key = event.key
        switch event {
        case .put(let kv):
            // An older cluster or configuration than this node knows is a resync's stale read.
            if key == keys.cluster {
                guard kv.createRevision >= state.clusterRevision ?? 0 else { return }
                state.clusterRevision = kv.createRevision
                state.clusterIdentity = ExternalClusterIdentity(clusterRecord: kv)
                noteEpoch(kv.createRevision, in: &state)
            } else if key == keys.config, kv.modRevision >= state.configModRevision, let config = EtcdMembershipConfig(bytes: kv.value) {
                state.config = config
                state.configModRevision = kv.modRevision
            } else if key == keys.seq, kv.modRevision >= state.seqModRevision {
                state.seqModRevision = kv.modRevision
                state.lastIndex = UInt64(kv.text) ?? state.lastIndex
            } else if key.hasPrefix(keys.electionPrefix) {
                state.candidates[key] = kv
            } else if let id = keys.memberID(key) {
                state.live[id] = kv.value
            } else if key == keys.transfer {
                state.transfer = EtcdTransferRequest(bytes: kv.value).map { (request: $0, modRevision: kv.modRevision) }
            }
        case .delete:
            if key == keys.cluster {
                state.clusterRevision = nil
                state.clusterIdentity = nil
            } else if key.hasPrefix(keys.electionPrefix) {
                state.candidates[key] = nil
                if state.leadership?.key == key { state.leadership = nil }
            } else if let id = keys.memberID(key) {
                state.live[id] = nil
            } else if key == keys.transfer {
                state.transfer = nil
            }
        }
    }

    /// A member's state belongs to the cluster it joined: one re-created under the same key
    /// starts its log again at 1, which this node would take as applied. It stops applying.
    func noteEpoch(_ revision: Int64, in state: inout EngineState) {
        guard state.wasMember else { return }
        guard let epoch = state.epoch else {
            state.epoch = revision
            return
        }
        if epoch != revision, state.failure == nil {
            state.failure = "the cluster under \(keys.root) in etcd was re-created (epoch revision \(epoch), now \(revision)) "
                + "while this node applied the old one; restart it to follow the new cluster"
        }
    }

    /// After a batch: membership, removal and leadership notifications. Returns true when this
    /// node just became a member (the log must be read from the start).
    func finishBatch() -> Bool {
        let joined = state.withLock { state -> Bool in
            let member = state.config.members.contains(configuration.localID)
            if member {
                defer { state.wasMember = true }
                if state.epoch == nil { state.epoch = state.clusterRevision }
                return !state.wasMember
            } else if state.wasMember, !state.removed {
                state.removed = true
                state.removedBy = state.leaderCandidate.flatMap { NodeID($0.text) }.flatMap { $0 == configuration.localID ? nil : $0 }
            }
            return false
        }
        publishLeadership()
        return joined
    }

    /// Applies pending entries while the next index is there; the leader snapshots every
    /// ``Configuration/snapshotEvery`` entries.
    func applyPending() async throws(EtcdError) {
        while true {
            let next = state.withLock { state -> (UInt64, Int64, [UInt8])? in
                guard state.failure == nil else { return nil }
                let index = state.appliedIndex + 1
                guard let entry = state.pending.removeValue(forKey: index) else { return nil }
                return (index, entry.revision, entry.data)
            }
            guard let (index, revision, data) = next else { return }
            applier.apply(index, revision, data)
            state.withLock { $0.appliedIndex = index }
            releaseWaiters(through: index)
            if configuration.snapshotEvery > 0, index % configuration.snapshotEvery == 0, status.isLeader {
                try await writeSnapshot(at: index)
            }
        }
    }

    /// Resumes every ``waitForApplied(_:)`` caller waiting for `index` or an earlier one.
    func releaseWaiters(through index: UInt64) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let ready = state.applyWaiters.filter { $0.0 <= index }.map(\.1)
            state.applyWaiters.removeAll { $0.0 <= index }
            return ready
        }
        for waiter in waiters { waiter.resume() }
    }
}
