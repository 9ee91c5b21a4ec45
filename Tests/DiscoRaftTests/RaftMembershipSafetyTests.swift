import DiscoCore
import DiscoRaft
import DiscoTestKit
import Testing

// MARK: - Promotion only when caught up; removed nodes know it

@Suite("Raft membership safety")
struct RaftMembershipSafetyTests {
    let n1: NodeID = "n1", n2: NodeID = "n2", n3: NodeID = "n3", n4: NodeID = "n4"

    func electedCluster() -> RaftTestCluster {
        var cluster = RaftTestCluster(voters: [n1, n2, n3])
        cluster.elect(n1)
        cluster.tickAll(times: 1)
        return cluster
    }

    func refusal(_ body: () throws -> Void) -> RaftError? {
        do {
            try body()
            return nil
        } catch let error as RaftError {
            return error
        } catch {
            return nil
        }
    }

    // MARK: Promotion

    @Test("a learner that never answered is never promoted, and the group keeps committing")
    func ghostLearnerStaysLearner() throws {
        var cluster = electedCluster()
        // n4 is added but never runs: nothing it could acknowledge.
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.addLearner(n4)) }
        cluster.tickAll(times: 3)
        #expect(cluster[n1].config.learners == [n4])
        #expect(cluster[n1].peerProgress[n4]?.match == 0)
        #expect(cluster[n1].peerProgress[n4]?.caughtUp == false)
        #expect(!cluster[n1].isCaughtUp(learner: n4))
        let error = refusal { try cluster.with(n1) { _ = try $0.proposeConfigChange(.promote(n4)) } }
        #expect(error?.code == .learnerNotCaughtUp)
        #expect(error?.message.contains("match index 0") == true)
        #expect(cluster[n1].config.voters == [n1, n2, n3])
        for value in 0..<5 { try cluster.with(n1) { _ = try $0.propose([UInt8(value)]) } }
        cluster.tickAll(times: 2)
        #expect(cluster[n2].commitIndex == cluster[n1].lastIndex)
    }

    @Test("a node cannot become a voter directly; a caught-up learner is promoted")
    func joinAsLearnerThenPromote() throws {
        var cluster = electedCluster()
        cluster.add(n4)
        let direct = refusal { try cluster.with(n1) { _ = try $0.proposeConfigChange(.addVoter(n4)) } }
        #expect(direct?.code == .invalidConfigChange)
        #expect(direct?.message.contains("learner first") == true)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.addLearner(n4)) }
        cluster.tickAll(times: 3)
        #expect(cluster[n1].isCaughtUp(learner: n4))
        #expect(cluster[n1].peerProgress[n4]?.match == cluster[n1].commitIndex)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.promote(n4)) }
        cluster.tickAll(times: 2)
        for id in cluster.ids { #expect(cluster[id].config.voters == [n1, n2, n3, n4]) }
    }

    @Test("a learner that stops answering is no longer caught up")
    func silentLearnerIsBehind() throws {
        var cluster = electedCluster()
        cluster.add(n4)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.addLearner(n4)) }
        cluster.tickAll(times: 3)
        #expect(cluster[n1].isCaughtUp(learner: n4))
        cluster.isolate(n4)
        cluster.tickAll(times: 3 * cluster.options.electionTicks)
        #expect(!cluster[n1].isCaughtUp(learner: n4))
        let error = refusal { try cluster.with(n1) { _ = try $0.proposeConfigChange(.promote(n4)) } }
        #expect(error?.message.contains("no answer within the last election timeout") == true)
    }

    // MARK: Removal

    @Test("a removed voter is told by the leader and stops campaigning")
    func removedVoterIsTold() throws {
        var cluster = electedCluster()
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.remove(n3)) }
        cluster.tickAll(times: 2)
        #expect(cluster[n1].config.voters == [n1, n2])
        let removal = try #require(cluster[n3].removal)
        #expect(removal.reportedBy == n1)
        #expect(removal.configIndex == cluster[n1].configIndex)
        #expect(!cluster[n3].isPromotable)
        let sentBefore = cluster.sent.count
        cluster.tickAll(times: 6 * cluster.options.electionTicks)
        #expect(!cluster.sent[sentBefore...].contains { $0.from == n3 && Self.isCampaign($0.body) })
        #expect(cluster[n1].role == .leader)
    }

    @Test("a voter removed while cut off learns it when it campaigns")
    func removedWhileAwayLearnsOnCampaign() throws {
        var cluster = electedCluster()
        cluster.isolate(n3)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.remove(n3)) }
        cluster.tickAll(times: 8 * cluster.options.electionTicks)  // the leader's reminders are lost
        #expect(cluster[n3].removal == nil)
        cluster.heal()
        cluster.tickAll(times: 4 * cluster.options.electionTicks)
        let removal = try #require(cluster[n3].removal)
        #expect([n1, n2].contains(removal.reportedBy ?? "none"))
        #expect(cluster[n1].role == .leader)
        #expect(cluster[n2].leader == n1)
    }

    @Test("a learner removed while cut off learns it from its reminders")
    func removedLearnerLearnsFromReminders() throws {
        var cluster = electedCluster()
        cluster.add(n4)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.addLearner(n4)) }
        cluster.tickAll(times: 3)
        cluster.isolate(n4)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.remove(n4)) }
        cluster.tickAll(times: 8 * cluster.options.electionTicks)
        #expect(cluster[n4].removal == nil)
        cluster.heal()
        cluster.tickAll(times: 4 * cluster.options.electionTicks)
        #expect(cluster[n4].removal != nil)
        #expect(cluster[n4].leader == nil)
    }

    @Test("a node removed before its log held its addition names no leader once it hears nothing")
    func nodeRemovedBeforeItsAdditionForgetsTheLeader() throws {
        var cluster = electedCluster()
        cluster.add(n4)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.addLearner(n4)) }
        // n4 hears the leader once (it follows it) but receives no entry before it is removed.
        let term = cluster[n1].term
        cluster.with(n4) { $0.receive(Message(from: n1, to: n4, term: term, body: .heartbeat(commit: 0, context: 0))) }
        #expect(cluster[n4].leader == n1)
        cluster.isolate(n4)
        cluster.tickAll(times: 3)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.remove(n4)) }
        cluster.tickAll(times: 4 * cluster.options.electionTicks)
        #expect(cluster[n4].config.members.isEmpty)
        #expect(cluster[n4].leader == nil)
    }

    @Test("a stale notice does not remove a node added since")
    func staleNoticeIsIgnored() throws {
        var cluster = electedCluster()
        cluster.add(n4)
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.addLearner(n4)) }
        cluster.tickAll(times: 3)
        let older = cluster[n4].configIndex - 1
        cluster.with(n4) { $0.receive(Message(from: n2, to: n4, term: $0.term, body: .removed(configIndex: older))) }
        #expect(cluster[n4].removal == nil)
        let newer = cluster[n4].configIndex + 1
        cluster.with(n4) { $0.receive(Message(from: n2, to: n4, term: $0.term, body: .removed(configIndex: newer))) }
        #expect(cluster[n4].removal?.configIndex == newer)
    }

    @Test("a removed leader knows it once its own removal commits")
    func leaderRemovesItself() throws {
        var cluster = electedCluster()
        try cluster.with(n1) { _ = try $0.proposeConfigChange(.remove(n1)) }
        cluster.tickAll(times: 2)
        #expect(cluster[n1].role == .follower)
        #expect(cluster[n1].removal?.reportedBy == nil)
        #expect(cluster[n1].removal?.configIndex == cluster[n1].configIndex)
    }

    @Test("removal notices survive the codec")
    func removedMessageRoundTrips() throws {
        let message = Message(from: n1, to: n3, term: 7, body: .removed(configIndex: 42))
        #expect(try RaftCodec.decodeMessage(RaftCodec.encode(message)) == message)
    }

    static func isCampaign(_ body: MessageBody) -> Bool {
        switch body {
        case .preVote, .vote: true
        default: false
        }
    }
}
