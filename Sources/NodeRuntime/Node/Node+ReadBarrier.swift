import DiscoCore
import DiscoNet

// MARK: - How current this node's copy of the replicated state is

extension Node {
    /// `GET /kv/read-index` (sent with the `-join-as` credentials): the leader's confirmed read
    /// index, for a follower's ``readBarrier(timeout:)``.
    static let readIndexPath = "/kv/read-index"

    /// How long a node may go without word from its leader before ``leaderSilenceProblem(now:)``
    /// names it: four election timeouts (4 × ``NodeConfiguration/Timing/electionTicks`` ×
    /// ``NodeConfiguration/Timing/raftTickInterval``; 1.2 s by default).
    /// A leader cut off from a quorum steps down within two, so a node that heard from one this
    /// recently missed at most what was committed since.
    public var leaderSilenceBound: Duration {
        configuration.timing.raftTickInterval * (4 * configuration.timing.electionTicks)
    }

    /// Nil while this node leads or heard from its leader within `bound` (nil:
    /// ``leaderSilenceBound``; zero: no bound, always nil), or the engine does not tell;
    /// otherwise why its copy of the replicated state may be stale.
    public func leaderSilenceProblem(now: ContinuousClock.Instant = .now, bound: Duration? = nil) -> String? {
        let bound = bound ?? leaderSilenceBound
        guard bound != .zero else { return nil }
        switch consensus.leaderContact {
        case .leading, .notTracked:
            return nil
        case .never:
            return "node \(id) has not heard from a Raft leader since it started"
        case .heard(let at):
            let silence = now - at
            guard silence > bound else { return nil }
            return "node \(id) has not heard from the Raft leader for \(GoDuration.format(silence)) "
                + "(more than \(GoDuration.format(bound)))"
        }
    }

    /// Returns once this node has applied every change the cluster committed before the call (a
    /// linearizable read barrier): the leader confirms with a quorum that it still leads; any
    /// other node asks the leader for that confirmed index (``readIndexPath``) and waits until
    /// it has applied it. Under an engine whose log lives outside the node (etcd), the index is
    /// that log's last, read from it (a linearizable read: ``ConsensusEngine/catchUpTarget()``). While no leader confirms (an election, a leader that just stepped
    /// down) it asks again; it throws when none has within `timeout`, or this node has not
    /// caught up by then: its copy may be stale.
    ///
    /// Concurrent calls share the rounds that learn the index (``readIndexRounds``): one runs at
    /// a time, and a call that arrives while one runs takes the index of the next, which starts
    /// once the running one ends. Each index a call takes was thus confirmed after the call
    /// began, and N concurrent calls make about two rounds instead of N. A shared round is
    /// bounded by the `timeout` of the call that runs it; a call waiting for one stops at its own
    /// deadline (throwing as above) rather than at the end of a round another call's timeout
    /// bounds, so a short `timeout` is answered within about that time.
    public func readBarrier(timeout: Duration) async throws(ReplicatedStateError) {
        let deadline = ContinuousClock.now + timeout
        var index: UInt64?
        while index == nil {
            do throws(ReplicatedStateError) {
                index = try await readIndexRounds.run(deadline: deadline) { () async throws(ReplicatedStateError) -> UInt64 in
                    try await self.readIndexNow(deadline: deadline)
                }
            } catch {
                guard ContinuousClock.now + Self.readIndexRetry < deadline, !Task.isCancelled else { throw error }
                try? await Task.sleep(for: Self.readIndexRetry)
            }
        }
        guard let index, await waitUntilApplied(index, timeout: max(.zero, deadline - .now)) else {
            throw ReplicatedStateError(.unavailable, "node \(id) has not applied the cluster's state through index \(index ?? 0) within "
                + "\(GoDuration.format(timeout)): it lags behind the leader")
        }
    }

    /// The pause before asking for a read index again.
    static let readIndexRetry = Duration.milliseconds(20)

    /// One round of ``readIndexRounds``: the index every change committed before it began is at,
    /// learned the way this node can now.
    private func readIndexNow(deadline: ContinuousClock.Instant) async throws(ReplicatedStateError) -> UInt64 {
        if consensus.externalState != nil { return try await externalReadIndex() }
        if consensus.status.isLeader { return try await confirmedReadIndex(deadline: deadline) }
        return try await readIndexFromLeader(timeout: max(.milliseconds(1), deadline - .now))
    }

    /// On the leader: a quorum confirms it still leads; the index everything committed before is
    /// at. Concurrent callers (this node's barriers, followers' `GET /kv/read-index`) share the
    /// quorum rounds (``leadershipConfirmations``), each answered by one that began after it came;
    /// a caller waiting for another's round stops at `deadline` (nil: when that round ends).
    private func confirmedReadIndex(deadline: ContinuousClock.Instant?) async throws(ReplicatedStateError) -> UInt64 {
        try await leadershipConfirmations.run(deadline: deadline) { () async throws(ReplicatedStateError) -> UInt64 in
            do {
                try await self.consensus.confirmLeadership()
            } catch {
                throw ReplicatedStateError(.unavailable, "node \(self.id) could not confirm with a quorum that it still leads: \(error)")
            }
            return self.consensus.status.commitIndex
        }
    }

    /// Under an external engine: the last index of the log where it lives, read from there now.
    private func externalReadIndex() async throws(ReplicatedStateError) -> UInt64 {
        do {
            return try await consensus.catchUpTarget()
        } catch {
            throw ReplicatedStateError(.unavailable, "node \(id) could not read how far the cluster's log has come: \(error)")
        }
    }

    private func readIndexFromLeader(timeout: Duration) async throws(ReplicatedStateError) -> UInt64 {
        guard let leaderID = consensus.status.leader, leaderID != id, let leader = info(for: leaderID) else {
            throw ReplicatedStateError(.unavailable, "node \(id) knows no leader to confirm its state with")
        }
        var headers = HTTPHeaders()
        if let joinCredentials { headers.add(name: "Authorization", value: joinCredentials) }
        let answer: HTTPClientResponse
        do {
            answer = try await client.send(HTTPClientRequest(method: "GET", url: leader.apiAddress.url + Self.readIndexPath, headers: headers),
                                           timeout: timeout)
        } catch {
            throw ReplicatedStateError(.unavailable, "the leader \(leader.id) did not confirm its read index: \(error)")
        }
        let body = try? JSONValue.parse(answer.body)
        guard answer.status == 200, let index = body?["index"]?.numberValue?.uint64Value else {
            let message = body?["error"]?.stringValue ?? answer.bodyText
            throw ReplicatedStateError(.unavailable, "the leader \(leader.id) answered \(answer.status) for its read index: \(message)")
        }
        return index
    }

    /// `GET /kv/read-index` on the leader: `{"index": N}` once a quorum confirmed it leads. It
    /// takes no query (a follower sends none): one is a 400 naming it.
    func getReadIndex(_ request: HTTPRequest) async -> HTTPResponse {
        if let error = APIQuery.refusal(request.query, of: "GET \(Self.readIndexPath)", usage: "it answers the leader's read index") {
            return error.response
        }
        guard consensus.status.isLeader else {
            return APIResponse.error(503, "node \(id) is not the leader; ask the leader for \(Self.readIndexPath)")
        }
        do {
            let index = try await confirmedReadIndex(deadline: nil)
            return APIResponse.json(["index": .number(JSONNumber(index))])
        } catch {
            return APIResponse.error(503, error.message)
        }
    }
}
