import DiscoCore
import DiscoRaft
import RaftCore
import DiscoTestKit
import Testing

// MARK: - A removed leader's handover survives a lost TimeoutNow, and never floods

@Suite("Raft removal of the leader: lost TimeoutNow, bounded catch-up")
struct RaftRemovalHandoverLossTests {
    let n1: NodeID = "n1", n2: NodeID = "n2", n3: NodeID = "n3", n4: NodeID = "n4", n5: NodeID = "n5"

    /// Drops every TimeoutNow waiting in the network; returns how many there were.
    @discardableResult
    func dropTimeoutNow(_ cluster: inout RaftTestCluster) -> Int {
        let lost = cluster.inFlight.filter { $0.body == .timeoutNow }.count
        cluster.inFlight.removeAll { $0.body == .timeoutNow }
        return lost
    }

    func timeoutNowCount(_ cluster: RaftTestCluster, from sender: NodeID, since start: Int = 0) -> Int {
        cluster.sent[start...].filter { $0.from == sender && $0.body == .timeoutNow }.count
    }

    func campaigns(_ cluster: RaftTestCluster, from sender: NodeID, since start: Int = 0) -> Int {
        cluster.sent[start...].filter { message in
            guard message.from == sender else { return false }
            switch message.body {
            case .preVote, .vote: return true
            default: return false
            }
        }.count
    }

    func otherLeaders(_ cluster: RaftTestCluster) -> [NodeID] { cluster.leaders.filter { $0 != n1 } }

    // MARK: Lost TimeoutNow

    @Test("the TimeoutNow is lost: the removed leader sends it again on its next heartbeat tick")
    func lostTimeoutNowIsSentAgain() throws {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        _ = try cluster.commitOwnRemoval(of: n1)
        let handedOver = cluster.sent.count
        #expect(dropTimeoutNow(&cluster) == 1, "the handover's TimeoutNow was lost")
        cluster.deliverAll()
        #expect(cluster[n1].role == .follower && cluster[n1].removal != nil)
        #expect(otherLeaders(cluster).isEmpty)
        var ticks = 0
        while otherLeaders(cluster).isEmpty, ticks < 10 * cluster.options.electionTicks {
            cluster.tickAll(times: 1)
            ticks += 1
        }
        // Without a second TimeoutNow the followers wait out their leases and an election
        // timeout (at least `electionTicks` ticks).
        #expect(ticks <= cluster.options.heartbeatTicks,
                "a new leader after \(ticks) ticks (heartbeat \(cluster.options.heartbeatTicks), election timeout \(cluster.options.electionTicks))")
        #expect(otherLeaders(cluster).count == 1)

        // The new leader's term answers the next retry; the removed node stops and stays out.
        let leader = otherLeaders(cluster).first ?? n2
        let leaderTerm = cluster[leader].term
        let sentBefore = cluster.sent.count
        cluster.tickAll(times: 6 * cluster.options.electionTicks)
        #expect(timeoutNowCount(cluster, from: n1, since: sentBefore) <= cluster.options.heartbeatTicks,
                "the removed node stopped once it saw the new leader's term")
        #expect(campaigns(cluster, from: n1, since: handedOver) == 0, "the removed node never campaigns")
        #expect(cluster[n1].role == .follower && !cluster[n1].isPromotable)
        #expect(cluster.leaders == [leader] && cluster[leader].term == leaderTerm, "the new leader was not disturbed")
        #expect(cluster[leader].config.voters == [n2, n3])
    }

    @Test("every TimeoutNow is lost: the removed leader tries on its heartbeat ticks for an election timeout, then stops")
    func retriesAreBounded() throws {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        _ = try cluster.commitOwnRemoval(of: n1)
        dropTimeoutNow(&cluster)
        cluster.cut.insert([n1, n2])  // everything n1 sends its successor is lost
        let sentBefore = cluster.sent.count
        let termBefore = cluster[n1].term
        for _ in 0..<(10 * cluster.options.electionTicks) {
            cluster.tick(n1)
            cluster.inFlight = []
        }
        let retries = timeoutNowCount(cluster, from: n1, since: sentBefore)
        let bound = cluster.options.electionTicks / cluster.options.heartbeatTicks
        #expect(retries >= 1, "it tried again")
        #expect(retries <= bound, "\(retries) retries in \(10 * cluster.options.electionTicks) ticks; at most \(bound)")
        #expect(cluster.sent[sentBefore...].allSatisfy { $0.body == .timeoutNow && $0.to == n2 },
                "only TimeoutNow to the chosen successor")
        #expect(campaigns(cluster, from: n1, since: sentBefore) == 0)
        #expect(cluster[n1].term == termBefore && cluster[n1].role == .follower)
        // The followers elect a leader of their own once their election timeout passes.
        cluster.heal()
        cluster.tickAll(times: 4 * cluster.options.electionTicks)
        #expect(otherLeaders(cluster).count == 1)
        #expect(cluster[n1].role == .follower && campaigns(cluster, from: n1, since: sentBefore) == 0)
    }

    @Test("a retried TimeoutNow that reaches a member of a newer term changes nothing there")
    func retryNeverDisturbsAnElectedLeader() throws {
        // n2, the successor, misses the handover and an election the three others hold; then
        // n1's retry reaches it.
        var cluster = RaftTestCluster(voters: [n1, n2, n3, n4, n5])
        _ = try cluster.commitOwnRemoval(of: n1)
        let handedOver = cluster.sent.count
        dropTimeoutNow(&cluster)
        cluster.deliverAll()
        let oldTerm = cluster[n1].term
        for other in [n3, n4, n5] {
            cluster.cut.insert([n2, other])
            cluster.cut.insert([other, n2])
        }
        var ticks = 0
        while otherLeaders(cluster).isEmpty, ticks < 10 * cluster.options.electionTicks {
            for id in [n3, n4, n5] { cluster.tick(id) }  // n1 does not tick: its retries wait
            cluster.deliverAll()
            ticks += 1
        }
        let leaders = otherLeaders(cluster)
        #expect(leaders.count == 1 && !leaders.contains(n2))
        guard let leader = leaders.first else { return }
        let leaderTerm = cluster[leader].term
        #expect(leaderTerm > oldTerm && cluster[n2].term == oldTerm)

        // n2 still in the old term campaigns on the retry, in the new leader's term at most:
        // the voters of that term voted already, and the leader leads on.
        cluster.heal()
        let sentBefore = cluster.sent.count
        cluster.tick(n1)
        #expect(timeoutNowCount(cluster, from: n1, since: sentBefore) == 1, "the retry went out")
        cluster.deliverAll()
        #expect(cluster.leaders == [leader] && cluster[leader].term == leaderTerm)
        // Now n2 is in the new term too: the next retries are answered with it and end.
        cluster.tickAll(times: 2 * cluster.options.electionTicks)
        #expect(cluster.leaders == [leader] && cluster[leader].term == leaderTerm, "the leader was never deposed")
        #expect(cluster[n2].role == .follower && cluster[n2].term == leaderTerm)
        #expect(cluster[n1].term == leaderTerm, "the removed node learned the newer term from a stale TimeoutNow's answer")
        let afterTerm = cluster.sent.count
        cluster.tickAll(times: 2 * cluster.options.electionTicks)
        #expect(timeoutNowCount(cluster, from: n1, since: afterTerm) == 0)
        #expect(campaigns(cluster, from: n1, since: handedOver) == 0)
    }

    @Test("a TimeoutNow of an older term is answered with the newer term and starts no campaign")
    func staleTimeoutNowIsHarmless() throws {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        cluster.tickAll(times: 1)
        try cluster.with(n1) { try $0.transferLeadership(to: n2) }
        let stale = cluster.sent.last { $0.body == .timeoutNow }
        cluster.deliverAll()
        #expect(cluster.leaders == [n2])
        let term = cluster[n2].term
        guard let stale else { Issue.record("no TimeoutNow was sent"); return }
        for target in [n2, n3] {
            let sentBefore = cluster.sent.count
            cluster.with(target) { $0.receive(Message(from: n1, to: target, term: stale.term, body: .timeoutNow)) }
            #expect(cluster[target].term == term)
            #expect(campaigns(cluster, from: target, since: sentBefore) == 0)
            #expect(cluster.sent[sentBefore...].allSatisfy { $0.term == term && $0.to == n1 }, "only an answer with the newer term")
        }
        cluster.deliverAll()
        #expect(cluster.leaders == [n2] && cluster[n2].term == term)
    }

    // MARK: Catch-up flow control

    /// Whether `message` is an append with entries from n1 to `peer`.
    func isAppendWithEntries(_ message: Message, to peer: NodeID) -> Bool {
        guard message.from == n1, message.to == peer, case .append(let request) = message.body else { return false }
        return !request.entries.isEmpty
    }

    @Test("catching a voter up after the removal commits keeps a slow member to the in-flight bound")
    func catchUpKeepsToTheInflightBound() throws {
        var options = RaftOptions()
        options.maxInflightAppends = 1
        options.maxEntriesPerAppend = 1
        var cluster = RaftTestCluster(voters: [n1, n2, n3, n4, n5], options: options)
        cluster.elect(n1)
        cluster.tickAll(times: 1)
        let removalIndex = try cluster.with(n1) { try $0.proposeConfigChange(.remove(n1)) }
        let entries = 8
        for value in 0..<UInt8(entries) { try cluster.with(n1) { _ = try $0.propose([value]) } }
        // n2 is slow: the appends with entries it is sent wait while everything else is delivered
        // (no ticks, so whatever n1 sends answers what it hears). n3, n4 and n5 are a quorum of
        // the voters without n1: the removal and the entries after it commit one by one, and n1
        // catches one of them up, then hands over.
        var delivered = 0
        while let next = cluster.inFlight.firstIndex(where: { !isAppendWithEntries($0, to: n2) }), delivered < 10_000 {
            let message = cluster.inFlight.remove(at: next)
            cluster.with(message.to) { $0.receive(message) }
            delivered += 1
        }
        let heldForN2 = cluster.inFlight.filter { isAppendWithEntries($0, to: n2) }.count
        #expect(cluster[n1].removal != nil && cluster[n1].role == .follower, "handed over")
        #expect(cluster[n3].commitIndex >= removalIndex + UInt64(entries))
        #expect(otherLeaders(cluster).count == 1)
        // Flow control allows `maxInflightAppends` appends, and one more for each heartbeat n2
        // answers (the one that carried the removal's commit index): 2. A heartbeat on every
        // commit let one more append through each time, one per entry.
        #expect(heldForN2 <= options.maxInflightAppends + 1,
                "\(heldForN2) appends with entries in flight to n2 at once (\(entries) entries after the removal)")
        cluster.deliverAll()
        cluster.tickAll(times: 2 * options.electionTicks)
        let leader = otherLeaders(cluster).first ?? n3
        #expect(cluster[n2].commitIndex == cluster[leader].commitIndex, "n2 caught up with the new leader")
    }
}
