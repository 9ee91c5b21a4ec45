import DiscoCore
import DiscoRaft

// MARK: - Handling Ready (the simulated shell)

extension RaftSimulation {
    /// Persists, sends, applies and advances until the node has nothing more to do. A write may
    /// crash the node before its sync (losing or tearing the unsynced records).
    mutating func drain(_ position: Int) {
        while var core = nodes[position].core, core.hasReady {
            nodes[position].core = nil
            let name = names[position]
            let ready = core.ready()

            if let soft = ready.softState {
                trace.record(.role(node: position, state: soft), at: now)
                if soft.role == .leader {
                    leaderTerms += 1
                    checker.leaderElected(node: position, name: name, term: soft.term, core: core)
                }
            }
            checker.appended(ready.entries, name: name, core: core)
            for message in ready.messages {
                switch message.body {
                case .appendResponse(let response) where response.accepted && response.index > 0:
                    checker.acknowledged(message.from)
                case .preVote, .vote:
                    if core.removal != nil { checker.removedNodeCampaigned(name: name, message: message) }
                default:
                    break
                }
            }

            // 0. A leader's appends may leave before its own write (as the node shell does), so a
            //    crash during the write below happens after followers may have them.
            let (early, late) = core.partitionMessages(of: ready)
            send(early, from: position)

            // 1. Persist (maybe crashing part-way).
            if !healed, ready.snapshot == nil, !ready.entries.isEmpty || ready.hardState != nil,
               Double.random(in: 0..<1, using: &random) < 0.003 {
                var storage = nodes[position].storage
                try? storage.append(ready.entries)
                if let hard = ready.hardState { try? storage.setHardState(hard) }
                nodes[position].storage = storage
                let torn = Bool.random(using: &random) ? Int.random(in: 0..<24, using: &random) : nil
                crash(position, duringWrite: true, tornBytes: torn)
                return
            }
            do {
                try nodes[position].storage.persist(ready)
            } catch {
                checker.fail("storage of \(name) failed: \(error)")
                return
            }
            if ready.mustSync {
                let lastIndex = core.lastIndex
                nodes[position].synced = (lastIndex, core.term(at: lastIndex) ?? 0, core.hardState)
            }

            // 2. Send the rest, then the stored snapshot to the followers the core named.
            send(late, from: position)
            sendSnapshots(ready.snapshotSends, from: position)

            // 3. Restore and apply.
            if let snapshot = ready.snapshot {
                let (index, hash) = Self.decodeState(snapshot.data)
                checker.restored(index: index, stateHash: hash, name: name)
                nodes[position].appliedIndex = index
                nodes[position].stateHash = hash
            }
            for entry in ready.committedEntries {
                guard entry.index == nodes[position].appliedIndex + 1 else {
                    checker.fail("apply order: \(name) applies \(entry.index) after \(nodes[position].appliedIndex)")
                    break
                }
                trace.record(.apply(node: position, index: entry.index, term: entry.term), at: now)
                nodes[position].stateHash = checker.applied(entry, name: name, nodeTerm: core.term, previousHash: nodes[position].stateHash)
                nodes[position].appliedIndex = entry.index
                if entry.kind == .normal, entry.data.first == 0xFF { livenessDone = true }
            }

            // 4. Reads.
            for read in ready.readStates {
                if case .ready(let index) = read.outcome, let asked = readsAsked[read.context] {
                    checker.readServed(index: index, appliedWhenAsked: asked, name: name)
                }
                readsAsked[read.context] = nil
            }

            core.advance(ready)
            checkMembership(position, core: core)

            // 5. Compaction, as an application would do it.
            if ready.shouldSnapshot, nodes[position].appliedIndex > core.snapshotIndex {
                let data = Self.encodeState(index: nodes[position].appliedIndex, hash: nodes[position].stateHash)
                do {
                    // As the node shell does: the core gives the metadata, the state is written in parts.
                    let metadata = try core.compact(through: nodes[position].appliedIndex)
                    let source = SnapshotSource(count: data.count) { write throws(RaftError) in
                        for start in stride(from: 0, to: data.count, by: 5) { try write(Array(data[start..<min(start + 5, data.count)])) }
                    }
                    try nodes[position].storage.saveSnapshot(metadata, data: source)
                } catch {
                    checker.fail("compaction at \(name) failed: \(error)")
                }
            }
            nodes[position].core = core
            if !checker.violations.isEmpty { return }
        }
    }
}

extension RaftSimulation {
    /// The membership invariants after each Ready: no phantom voters in the configuration now in
    /// effect on this node, and a removal the node now believes in is honest.
    mutating func checkMembership(_ position: Int, core: RaftNode) {
        checker.configurationInEffect(core.config, at: core.configIndex, name: names[position])
        let removal = core.removal
        if let removal, removal != nodes[position].reportedRemoval {
            trace.record(.note("\(names[position]) learns it was removed (configuration \(removal.configIndex), told by \(removal.reportedBy?.rawValue ?? "its own log"))"), at: now)
            checker.removalReported(node: nodes[position].id, name: names[position], configIndex: removal.configIndex)
        }
        nodes[position].reportedRemoval = removal
    }

    /// Fulfils a leader's snapshot sends as the node shell does: reads the snapshot storage
    /// holds and sends it with its own metadata. Storage must hold one at least as new as the one
    /// the core named (it stores a snapshot before its next Ready), or the leader would wait on a
    /// snapshot that never comes.
    mutating func sendSnapshots(_ requests: [SnapshotSend], from position: Int) {
        guard !requests.isEmpty else { return }
        let stored: Snapshot?
        do {
            stored = try nodes[position].storage.storedSnapshot()
        } catch {
            checker.fail("reading the snapshot of \(names[position]) failed: \(error)")
            return
        }
        for request in requests {
            guard let stored, let message = request.message(carrying: stored) else {
                checker.fail("snapshot send: \(names[position]) was to send its snapshot at \(request.metadata.index) to "
                    + "\(request.to), but storage holds \(stored.map { "one at \($0.metadata.index)" } ?? "none")")
                continue
            }
            trace.record(.note("\(names[position]) sends its stored snapshot at \(stored.metadata.index) to \(request.to)"), at: now)
            send([message], from: position)
        }
    }

    /// Puts messages on the simulated network.
    mutating func send(_ messages: [Message], from position: Int) {
        for message in messages {
            guard let target = nodes.firstIndex(where: { $0.id == message.to }) else { continue }
            let bytes = RaftCodec.encode(message)
            for delay in network.deliveries(from: position, to: target, random: &random) {
                queue.schedule(.deliver(bytes: bytes, to: target), at: now + delay)
            }
        }
    }
}
