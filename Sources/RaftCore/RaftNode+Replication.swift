import DiscoCore

// MARK: - Leader: replication and commit

extension RaftNode {
    @discardableResult
    mutating func appendAsLeader(kind: EntryKind, data: [UInt8]) -> UInt64 {
        let entry = Entry(term: term, index: log.lastIndex + 1, kind: kind, data: data)
        let previousConfig = config
        log.append([entry])
        if kind == .config {
            refreshConfigOrHalt()
            noteRemovedMembers(from: previousConfig, at: entry.index)
        }
        broadcastAppend()
        return entry.index
    }

    mutating func broadcastAppend() {
        for peer in config.members where peer != id {
            sendAppend(to: peer, allowEmpty: true)
        }
    }

    mutating func broadcastHeartbeat() {
        // With lease reads every heartbeat is a round of its own: its answers extend the lease
        // from the tick it went out at.
        let context = options.leaseReads ? reads.nextRound() : reads.latestRound
        if options.leaseReads { lease.recordSent(round: context) }
        for peer in config.members where peer != id {
            let match = progress[peer]?.match ?? 0
            send(.heartbeat(commit: min(match, log.committed), context: context), to: peer)
        }
    }

    /// Sends the next append (or the snapshot) to `peer` unless its flow control is paused.
    /// Returns whether something was sent.
    @discardableResult
    mutating func sendAppend(to peer: NodeID, allowEmpty: Bool) -> Bool {
        guard var pr = progress[peer], !pr.isPaused(maxInflight: options.maxInflightAppends) else { return false }
        defer { progress[peer] = pr }
        let prevIndex = pr.next - 1
        guard let prevTerm = log.term(at: prevIndex) else {
            guard let metadata = snapshotMetadata, metadata.index >= prevIndex else { return false }
            pr.becomeSnapshot(index: metadata.index)
            snapshotSends.append(SnapshotSend(from: id, to: peer, term: term, metadata: metadata))
            return true
        }
        let batch = log.slice(from: pr.next, through: log.lastIndex,
                              maxCount: options.maxEntriesPerAppend, maxBytes: options.maxBytesPerAppend)
        if batch.isEmpty, !allowEmpty, pr.state == .replicate { return false }
        send(.append(AppendRequest(prevIndex: prevIndex, prevTerm: prevTerm, entries: batch, commit: log.committed)),
             to: peer)
        switch pr.state {
        case .replicate:
            if let last = batch.last {
                pr.next = last.index + 1
                pr.inflight.append(last.index)
            }
        case .probe:
            pr.probeSent = true
        case .snapshot:
            break
        }
        return true
    }

    mutating func handleAppendResponse(_ response: AppendResponse, from peer: NodeID) {
        guard var pr = progress[peer] else { return }
        pr.recentActive = true
        if response.accepted {
            guard response.index <= log.lastIndex else { progress[peer] = pr; return }
            let moved = pr.acknowledge(response.index)
            switch pr.state {
            case .probe: pr.becomeReplicate()
            case .snapshot where pr.match >= pr.pendingSnapshot: pr.becomeProbe(); pr.becomeReplicate()
            default: break
            }
            progress[peer] = pr
            if moved, maybeCommit() {
                broadcastAppend()
            }
            while sendAppend(to: peer, allowEmpty: false) {}
            if peer == leadTransferee, progress[peer]?.match == log.lastIndex {
                if ownRemovalCommitted {
                    handOver(to: peer)
                } else {
                    sendTimeoutNow(to: peer)
                }
            }
        } else {
            var hintNext = response.conflictIndex
            if response.conflictTerm > 0,
               let found = log.lastIndex(ofTerm: response.conflictTerm, atOrBelow: response.index) {
                hintNext = found + 1
            }
            let changed = pr.reject(response.index, hintNext: max(hintNext, 1))
            progress[peer] = pr
            if changed { sendAppend(to: peer, allowEmpty: true) }
        }
    }

    mutating func handleHeartbeatResponse(context: UInt64, from peer: NodeID) {
        guard var pr = progress[peer] else { return }
        pr.recentActive = true
        pr.probeSent = false
        if pr.state == .replicate, pr.inflight.count >= options.maxInflightAppends {
            pr.inflight.removeFirst()  // an append may have been lost; let one more through
        }
        progress[peer] = pr
        if pr.match < log.lastIndex { sendAppend(to: peer, allowEmpty: true) }
        if config.isVoter(peer) {
            reads.acknowledge(round: context, from: peer)
            lease.recordAnswer(round: context, from: peer)
        }
        releaseReads()
    }

    /// Advances the commit index to the highest index a quorum of voters holds durably, if that
    /// entry is from the current term (Raft §5.4.2). Returns whether it moved.
    mutating func maybeCommit() -> Bool {
        guard !config.voters.isEmpty else { return false }
        let matches = config.voters.map { $0 == id ? log.persisted : (progress[$0]?.match ?? 0) }.sorted(by: >)
        let candidate = matches[config.quorum - 1]
        guard candidate > log.committed, log.term(at: candidate) == term else { return false }
        log.committed = candidate
        if !config.isVoter(id), log.committed >= configIndex {
            handOverAfterOwnRemoval()
            return false
        }
        releaseReads()
        if !pendingRemovalNotices.isEmpty { sendRemovalNotices() }
        return true
    }

    /// Whether the leader has committed an entry of its own term (required before serving reads
    /// and before membership changes).
    var committedInCurrentTerm: Bool { log.term(at: log.committed) == term }

    // MARK: Compaction

    /// Records that the application took a snapshot of its state through `index` (which must be
    /// applied) and drops the log up to it. Returns the snapshot's metadata (index, term and the
    /// configuration in force there): the shell stores the application's state with it before the
    /// next ``ready()``, which may ask to send it to a follower. The node never sees the data, so
    /// the application can write it straight to storage in parts.
    public mutating func compact(through index: UInt64) throws(RaftError) -> SnapshotMetadata {
        guard index <= log.applied, index > log.snapshotIndex, let entryTerm = log.term(at: index) else {
            throw RaftError(.invalidArgument,
                            "snapshot index \(index) must be applied (≤ \(log.applied)) and after the last snapshot (\(log.snapshotIndex))")
        }
        var snapshotConfigAt = snapshotConfig
        if let entry = log.slice(from: log.firstIndex, through: index).last(where: { $0.kind == .config }) {
            snapshotConfigAt = try Self.decodeConfig(entry, from: "the log")
        }
        log.compact(through: index)
        snapshotConfig = snapshotConfigAt
        snapshotSuggested = false
        return SnapshotMetadata(index: index, term: entryTerm, config: snapshotConfigAt)
    }

    /// ``compact(through:)`` for a snapshot already held in one buffer: returns it with its
    /// metadata, for the shell to persist (the node keeps only the metadata).
    public mutating func compact(through index: UInt64, data: [UInt8]) throws(RaftError) -> Snapshot {
        Snapshot(metadata: try compact(through: index), data: data)
    }
}
