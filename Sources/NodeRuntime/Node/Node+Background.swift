import Bootstrap
import DiscoCore
import Synchronization

// MARK: - Background work

extension Node {
    /// Reloads certificates and keys whose files changed (a rotation, a Kubernetes secret
    /// update); open connections keep the context they started with.
    func watchTLSFiles() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.tls.reloadInterval)
            guard !Task.isCancelled else { return }
            tls.reload(onlyIfChanged: true, logger: logger)
        }
    }

    /// Reloads every certificate and key now (SIGHUP). A file that cannot be used keeps the
    /// previous certificate serving, and the reason is logged.
    public func reloadTLS() {
        guard !tls.stores.isEmpty else {
            logger.info("reload requested; the node's API and internode port have no TLS certificates to reload")
            return
        }
        tls.reload(onlyIfChanged: false, logger: logger)
    }

    /// Follows leadership: counts changes, tells formation and the KV record keeper. Throws
    /// when consensus stops on its own (its error stops the node).
    func watchLeadership() async throws {
        for await change in consensus.leadershipChanges() {
            metrics.observeLeader(change.leader)
            let (shell, keeper, previous) = runtime.withLock { state in
                defer { state.lastLeader = change.leader }
                return (state.bootstrap, state.keeper, state.lastLeader)
            }
            if change.leader != previous {
                if let leader = change.leader {
                    logger.info("leader is \(leader)\(change.isLocal ? " (this node)" : "") in term \(change.term)")
                } else {
                    logger.info("no leader in term \(change.term)")
                }
            }
            if change.leader != nil { await shell?.clusterFormed() }
            await keeper?.leadershipChanged(isLeader: change.isLocal)
        }
        // The stream ends when consensus stops: on its own, that stops the node with its error.
        if !isStopping, !Task.isCancelled, let failure = consensus.status.failure {
            throw self.failure("consensus stopped: \(failure)")
        }
    }

    /// Learns addresses from gossip: a member that came back on a new address is found again.
    func watchMembership() async {
        defer { gossipSubscribers.finish() }
        for await member in membership.events {
            gossipSubscribers.publish()
            guard member.isLive, let api = member.apiAddress else { continue }
            if book.learn(member.id, raftAddress: member.address, apiAddress: api, voter: member.voter, source: .gossip) {
                logger.debug("address of \(member.id) from gossip: Raft \(member.address), API \(api.url)")
            }
        }
    }

    // MARK: Reconciliation

    /// On the leader: keeps the replicated state in step with Raft's configuration (cluster name
    /// and epoch set once; every member's current addresses recorded; removed members dropped)
    /// and trims the event log to its retention; every fourth round, deletes the consumer
    /// cursors no consumer needs (``collectEventCursors()``).
    /// On every node: makes sure SWIM knows every member.
    func reconcileLoop() async {
        var round = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.timing.reconcileInterval)
            guard !Task.isCancelled else { return }
            round += 1
            if let removal = consensus.status.removal {
                await noticeRemoval(removal)
                continue
            }
            catchUpBookFromRecords()
            completeMembershipRecord()
            await checkMembershipWhileLeaderless()
            if consensus.status.isLeader {
                await membershipChanges.withLock { await reconcileOnce() }
                await trimEventLog()
                if round % 4 == 2 { await collectEventCursors() }
            } else {
                forgetLearners()
                forgetCursorSightings()
            }
            if round % 8 == 1 { await introduceMissingMembersToGossip() }
            if round % 8 == 5 { await registerNodeKeyIfMissing() }
            if round % 8 == 3 { await announceWhileLeaderlessWithAStaleRecord() }
        }
    }

    /// Without a leader, while the committed record of this node describes an earlier start
    /// (an older generation), tells every member where this node is now, with its node key, as
    /// ``rejoin()`` does at start. A record of an earlier start can commit late (an entry of the
    /// last run that a new leader replicates), and the members then send Raft to this node's old
    /// addresses: it hears no leader and no leader hears it, and the join that would correct
    /// the record (``registerNodeKeyIfMissing()``) needs a leader.
    private func announceWhileLeaderlessWithAStaleRecord() async {
        guard consensus.status.leader == nil, consensus.status.members.contains(id),
              let record = store.member(id), record.generation < directory.generation else { return }
        let request = NotifyRequest(sender: localPeer, cluster: clusterName, expect: max(1, configuration.formation.bootstrapExpect),
                                    known: [], nodeKey: nodeKeyText)
        let targets = book.all.filter { $0.key != id }.map(\.value.apiAddress)
        let client = formationClient
        let timeout = configuration.formation.notifyTimeout
        await withTaskGroup(of: Void.self) { group in
            for target in targets {
                group.addTask { _ = await client.notify(target, request, timeout: timeout) }
            }
        }
    }

    /// A member whose record has no key hash (a record written before keys existed, or a
    /// founder the proposal did not describe) registers its key with the leader: a join at its
    /// own addresses with its key. From then on only that key (or -auth credentials) moves it.
    /// A member restarted with other roles joins the same way, so the leader commits its record
    /// with the roles it announces now; and so does a member without a record, or whose record
    /// describes an earlier start (an older generation: a leader that never heard a proven
    /// request from it since, as with `-consensus etcd`, where restarted members need none).
    private func registerNodeKeyIfMissing() async {
        guard consensus.status.members.contains(id), let epoch = store.epoch, let leader = leaderInfo, leader.id != id else { return }
        let record = store.member(id)
        if let record, !record.keyHash.isEmpty, record.roles == announcedRoles, record.generation >= directory.generation { return }
        let join = JoinRequest(node: localPeer, cluster: clusterName, epoch: epoch, nodeKey: nodeKeyText)
        if case .failure(let error) = await formationClient.join(target: leader.apiAddress, request: join,
                                                                 timeout: configuration.formation.notifyTimeout) {
            logger.debug("registering the node key with the leader failed: \(error)")
        }
    }

    private func reconcileOnce() async {
        guard consensus.status.isLeader else { return }
        do {
            try await ensureInitialized()
            let raft = consensus.status
            for member in raft.members {
                // Only addresses from a trusted source are recorded: the replicated state itself,
                // a bootstrap proposal, or a join or notify that proved it came from the member.
                guard let entry = book.entry(member), entry.source.isTrusted else { continue }
                let existing = store.member(member)
                // The record keeps the role the node asked for when it joined; a learner that
                // wants to vote is promoted once the engine reports it caught up (below).
                let voter = raft.voters.contains(member) || (existing?.voter ?? false)
                let keyHash = existing.map(\.keyHash).flatMap { $0.isEmpty ? nil : $0 } ?? entry.keyHash
                let roles = book.roles(of: member) ?? existing?.roles ?? []
                // The record's addresses come from the latest generation known: the book's entry
                // unless the record describes a later one (the book then catches up from it). An
                // entry of unknown generation (an older node version) keeps the recorded one.
                let recorded = existing?.generation ?? 0
                let generation = entry.generation == 0 ? recorded : entry.generation
                let behind = generation < recorded
                let wanted = ClusterMember(id: member, raftAddress: behind ? existing?.raftAddress ?? "" : entry.raftAddress.description,
                                           apiAddress: behind ? existing?.apiAddress ?? "" : entry.apiAddress.description, voter: voter,
                                           keyHash: keyHash, roles: roles, generation: max(generation, recorded))
                if existing != wanted {
                    _ = try await consensus.propose(try ClusterCommand.upsertMember(wanted).encode())
                }
            }
            for record in store.members where !raft.members.contains(record.id) {
                _ = try await consensus.propose(try ClusterCommand.removeMember(record.id).encode())
            }
            try await reconcileLearners()
        } catch {
            logger.debug("reconciliation deferred: \(error)")
        }
    }

    /// On the leader: drops the oldest events beyond `-events-retain` and `-events-retain-bytes`
    /// with one replicated trim (every node then keeps the same window).
    private func trimEventLog() async {
        let retention = EventRetention(maxEvents: configuration.eventLog.retention.maxEvents, maxBytes: configuration.eventLog.retention.maxBytes)
        guard let through = store.trimPoint(for: retention) else { return }
        do {
            _ = try await consensus.propose(try ClusterCommand.trimEvents(through: through).encode())
        } catch {
            logger.debug("event log trim through \(through) deferred: \(error)")
        }
    }

    /// Sets the cluster name and a fresh epoch once, on the first leader of a new cluster.
    func ensureInitialized() async throws {
        guard store.cluster == nil else { return }
        let epoch = UInt64.random(in: 1...UInt64.max)
        _ = try await consensus.propose(try ClusterCommand.initialize(cluster: configuration.cluster.name, epoch: epoch).encode())
        logger.info("cluster \(configuration.cluster.name.debugDescription) initialized with epoch \(epoch)")
    }

    /// Asks SWIM to contact members it has not heard of (after joins, restarts, new addresses).
    private func introduceMissingMembersToGossip() async {
        let known = Set(await membership.members().filter(\.isLive).map(\.id))
        let missing = consensus.status.members.filter { $0 != id && !known.contains($0) }.compactMap { book.raftAddress($0) }
        guard !missing.isEmpty else { return }
        gossipSeedSink.yield(missing)
    }
}

// MARK: - Replicated membership → address book

extension Node {
    /// Feeds replicated member records into the address book (newer observations still win).
    func watchReplicatedMembers() async {
        // Subscribe before reading: entries are applied on Raft's thread meanwhile, and a change
        // applied between the read and the subscription would otherwise never reach the book
        // (Raft would keep sending to a member's old address).
        let changes = store.changes()
        for member in store.members { learnReplicated(member, previous: nil) }
        for await change in changes {
            switch change {
            case .applied(_, .memberUpdated(let member, let previous)):
                learnReplicated(member, previous: previous)
                noteMember(member.id, removed: false)
            case .applied(_, .memberRemoved(let member)): noteMember(member.id, removed: true)
            case .restored: for member in store.members { learnReplicated(member, previous: nil) }
            default: break
            }
        }
    }

    /// Offers every committed member record's addresses to the address book again, under the
    /// book's own rules (a fresher proven observation still wins; roles announced since are kept).
    /// The change stream keeps the book current; this repairs a book that fell behind anyway,
    /// which nothing else would: the leader's reconciliation leaves a record that is newer than
    /// the book as it is, and Raft would go on sending to the member's old address.
    func catchUpBookFromRecords() {
        for member in store.members { learnReplicated(member, previous: nil, roles: false) }
    }

    /// Feeds one committed record to the book: its addresses, and with `roles` its roles (a
    /// record as it is applied is what every leader reconciles towards).
    private func learnReplicated(_ member: ClusterMember, previous: ClusterMember?, roles: Bool = true) {
        guard let raft = try? PeerAddress(parsing: member.raftAddress), let api = try? PeerAddress(parsing: member.apiAddress) else {
            return
        }
        let old = previous.flatMap { previous -> (raft: PeerAddress, api: PeerAddress)? in
            guard let raft = try? PeerAddress(parsing: previous.raftAddress), let api = try? PeerAddress(parsing: previous.apiAddress)
            else { return nil }
            return (raft, api)
        }
        book.learnReplicated(member.id, raftAddress: raft, apiAddress: api, voter: member.voter, keyHash: member.keyHash,
                             generation: member.generation, previous: old)
        if roles, member.id != id { book.noteRoles(member.id, member.roles) }
    }
}
