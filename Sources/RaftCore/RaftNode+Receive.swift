import DiscoCore

// MARK: - Receiving messages

extension RaftNode {
    /// Handles a message from another member.
    public mutating func receive(_ message: Message) {
        guard message.to == id, message.from != id, fault == nil else { return }
        if case .removed(let configIndex) = message.body {
            handleRemovalNotice(configIndex: configIndex, from: message.from)
            return
        }
        noticeNonMember(message)
        if message.term > term {
            switch message.body {
            case .preVote, .vote(_, _, false):
                if inLease { return }  // a live leader exists: do not let this request disrupt it
            default:
                break
            }
            switch message.body {
            case .preVote:
                break  // answering a pre-vote never changes our term
            case .preVoteResponse(granted: true):
                break  // granted at the term we would campaign in
            case .append, .heartbeat, .installSnapshot:
                becomeFollower(term: message.term, leader: message.from)
            default:
                becomeFollower(term: message.term, leader: nil)
            }
        } else if message.term < term {
            switch message.body {
            case .append, .heartbeat, .timeoutNow:
                // A stale leader (or one cut off while we moved on, or a removed leader still
                // handing over): tell it our term so it steps down (or stops handing over).
                if options.checkQuorum || options.preVote {
                    send(.appendResponse(AppendResponse(accepted: false, index: 0)), to: message.from)
                }
            case .preVote:
                send(.preVoteResponse(granted: false), to: message.from)
            default:
                break
            }
            return
        }
        dispatch(message)
    }

    private mutating func dispatch(_ message: Message) {
        switch message.body {
        case .preVote(let lastIndex, let lastTerm):
            handleVoteRequest(message, preVote: true, lastIndex: lastIndex, lastTerm: lastTerm)
        case .vote(let lastIndex, let lastTerm, _):
            handleVoteRequest(message, preVote: false, lastIndex: lastIndex, lastTerm: lastTerm)
        case .preVoteResponse(let granted):
            handleVoteResponse(message, preVote: true, granted: granted)
        case .voteResponse(let granted):
            handleVoteResponse(message, preVote: false, granted: granted)
        case .append(let request):
            guard followLeader(message) else { return }
            handleAppend(request, from: message.from)
        case .heartbeat(let commit, let context):
            guard followLeader(message) else { return }
            // A heartbeat's commit is capped at what the leader knows this node holds.
            announcedCommit = max(announcedCommit, commit)
            log.committed = max(log.committed, min(commit, log.lastIndex))
            send(.heartbeatResponse(context: context), to: message.from)
        case .installSnapshot(let snapshot):
            guard followLeader(message) else { return }
            handleSnapshot(snapshot, from: message.from)
        case .appendResponse(let response):
            guard role == .leader else { return }
            handleAppendResponse(response, from: message.from)
        case .heartbeatResponse(let context):
            guard role == .leader else { return }
            handleHeartbeatResponse(context: context, from: message.from)
        case .timeoutNow:
            guard role != .leader else { return }
            startCampaign(preVote: false, transfer: true)
        case .removed:
            break  // handled before the term checks
        }
    }

    /// A leader's message at our term: follow it. Returns false if we are that term's leader.
    private mutating func followLeader(_ message: Message) -> Bool {
        guard role != .leader else { return false }
        if role != .follower || leader != message.from {
            becomeFollower(term: message.term, leader: message.from)
        }
        electionElapsed = 0
        leaderContacts &+= 1
        return true
    }

    // MARK: Follower side

    private mutating func handleAppend(_ request: AppendRequest, from leaderID: NodeID) {
        // Entries that do not follow prevIndex one by one are malformed: drop the append whole
        // (appending them would break the log's index order, in memory and in storage).
        guard request.entries.enumerated().allSatisfy({ $1.index == request.prevIndex &+ 1 &+ UInt64($0) }) else { return }
        // The leader's whole commit index, even when this node cannot commit that far yet.
        announcedCommit = max(announcedCommit, request.commit)
        if request.prevIndex < log.committed {
            // Everything up to our commit index matches; resume from there.
            let skip = request.entries.filter { $0.index > log.committed }
            let prev = log.committed
            guard let prevTerm = log.term(at: prev) else {
                send(.appendResponse(AppendResponse(accepted: true, index: log.committed)), to: leaderID)
                return
            }
            if let first = skip.first, first.index != prev + 1 { return }
            if skip.isEmpty {
                send(.appendResponse(AppendResponse(accepted: true, index: log.committed)), to: leaderID)
                return
            }
            handleAppend(AppendRequest(prevIndex: prev, prevTerm: prevTerm, entries: skip, commit: request.commit),
                         from: leaderID)
            return
        }
        guard log.term(at: request.prevIndex) == request.prevTerm else {
            var response = AppendResponse(accepted: false, index: request.prevIndex)
            if request.prevIndex > log.lastIndex {
                response.conflictIndex = log.lastIndex + 1
            } else {
                response.conflictTerm = log.term(at: request.prevIndex) ?? 0
                response.conflictIndex = max(log.firstIndex(ofTermAt: request.prevIndex), log.committed + 1)
            }
            send(.appendResponse(response), to: leaderID)
            return
        }
        var firstNew: Int?
        for (position, entry) in request.entries.enumerated() where log.term(at: entry.index) != entry.term {
            firstNew = position
            break
        }
        if let firstNew {
            let newEntries = Array(request.entries[firstNew...])
            guard newEntries[0].index > log.committed else { return }  // never overwrite committed entries
            for entry in newEntries where entry.kind == .config {
                do {
                    _ = try Self.decodeConfig(entry, from: "leader \(leaderID)")
                } catch {
                    return halt(error)  // neither appended nor acknowledged
                }
            }
            let cut = log.append(newEntries)
            if newEntries.contains(where: { $0.kind == .config }) || (cut.map { $0 <= configIndex } ?? false) {
                refreshConfigOrHalt()
            }
        }
        let lastNew = request.prevIndex + UInt64(request.entries.count)
        log.committed = max(log.committed, min(request.commit, lastNew))
        send(.appendResponse(AppendResponse(accepted: true, index: lastNew)), to: leaderID)
    }

    private mutating func handleSnapshot(_ snapshot: Snapshot, from leaderID: NodeID) {
        let meta = snapshot.metadata
        announcedCommit = max(announcedCommit, meta.index)  // a snapshot holds committed entries only
        if meta.index <= log.committed {
            send(.appendResponse(AppendResponse(accepted: true, index: log.committed)), to: leaderID)
            return
        }
        if log.term(at: meta.index) == meta.term {
            // We already hold the snapshot's last entry: just commit up to it.
            log.committed = meta.index
            send(.appendResponse(AppendResponse(accepted: true, index: meta.index)), to: leaderID)
            return
        }
        log.restore(index: meta.index, term: meta.term)
        pendingSnapshot = snapshot  // handed to the shell in the next Ready, then let go
        snapshotConfig = meta.config
        snapshotSuggested = false
        refreshConfigOrHalt()
        send(.appendResponse(AppendResponse(accepted: true, index: meta.index)), to: leaderID)
    }
}
