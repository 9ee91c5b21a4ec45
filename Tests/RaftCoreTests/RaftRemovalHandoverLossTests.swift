import DiscoCore
import DiscoRaft
import RaftCore
import DiscoTestKit
import Testing

// MARK: - A removed leader's handover never floods

@Suite("Raft removal of the leader: bounded catch-up")
struct RaftRemovalHandoverLossTests {
    let n1: NodeID = "n1", n2: NodeID = "n2", n3: NodeID = "n3", n4: NodeID = "n4", n5: NodeID = "n5"

    func otherLeaders(_ cluster: RaftTestCluster) -> [NodeID] { cluster.leaders.filter { $0 != n1 } }

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
