import DiscoCore
import Testing
@testable import BootstrapCore

@Suite struct BootstrapEngineTests {
    func peer(_ id: String, voter: Bool = true) -> BootstrapPeer {
        BootstrapPeer(id: NodeID(id) ?? "invalid", raftAddress: "\(id):4002", apiAddress: "\(id):4001", voter: voter)
    }

    func engine(_ id: String, expect: Int = 3, cluster: String = "disco", promise: Proposal? = nil,
                hasState: Bool = false) -> BootstrapEngine {
        let me = peer(id)
        return BootstrapEngine(settings: .init(me: me, cluster: cluster, expect: expect,
                                               selfAddresses: [PeerAddress(host: id, port: 4001)]),
                               seed: 1, promise: promise, hasClusterState: hasState)
    }

    func proposal(by proposer: String, _ sequence: UInt64 = 1, voters: [String]) -> Proposal {
        Proposal(id: ProposalID(proposer: NodeID(proposer) ?? "invalid", sequence: sequence), cluster: "disco", expect: 3,
                 voters: voters.map { peer($0) })
    }

    @Test func mismatchedExpectIsRefusedNamingBothValues() {
        var node = engine("b", expect: 3)
        let (reply, _) = node.handleNotify(NotifyRequest(sender: peer("a"), cluster: "disco", expect: 5, known: []), now: .zero)
        guard case .mismatch(let message) = reply else {
            Issue.record("expected a mismatch, got \(reply)")
            return
        }
        #expect(message.contains("-bootstrap-expect 5") && message.contains("-bootstrap-expect 3"))
    }

    @Test func mismatchedClusterNameIsRefused() {
        var node = engine("b", cluster: "blue")
        let (reply, _) = node.handleNotify(NotifyRequest(sender: peer("a"), cluster: "green", expect: 3, known: []), now: .zero)
        guard case .mismatch(let message) = reply else {
            Issue.record("expected a mismatch")
            return
        }
        #expect(message.contains("\"green\"") && message.contains("\"blue\""))
    }

    @Test func aPromiseIsExclusiveAndPersistedBeforeTheReply() {
        var node = engine("c")
        let first = proposal(by: "a", voters: ["a", "b", "c"])
        let (reply, effects) = node.handleProposal(first, now: .zero)
        #expect(reply == .accepted)
        #expect(effects.first == .persistPromise(first))
        let (second, _) = node.handleProposal(proposal(by: "b", voters: ["b", "c", "d"]), now: .zero)
        #expect(second == .refused("promised to proposal a#1"))
        let (again, _) = node.handleProposal(first, now: .zero)
        #expect(again == .accepted, "the same proposal is accepted again (retries)")
    }

    @Test func aLaterProposalFromTheSameProposerSupersedesThePromise() {
        var node = engine("c")
        _ = node.handleProposal(proposal(by: "a", 1, voters: ["a", "b", "c"]), now: .zero)
        let (reply, effects) = node.handleProposal(proposal(by: "a", 2, voters: ["a", "c", "d"]), now: .zero)
        #expect(reply == .accepted)
        #expect(node.promise?.id.sequence == 2)
        #expect(effects.contains(.persistPromise(proposal(by: "a", 2, voters: ["a", "c", "d"]))))
    }

    @Test func aPersistedPromiseSurvivesARestart() {
        var node = engine("c", promise: proposal(by: "a", voters: ["a", "b", "c"]))
        let (reply, _) = node.handleProposal(proposal(by: "b", voters: ["b", "c", "d"]), now: .zero)
        #expect(reply == .refused("promised to proposal a#1"))
        let effects = node.start(now: .zero)
        #expect(effects.contains(.askStatus(ProposalID(proposer: "a", sequence: 1), proposer: peer("a"))),
                "a promised node asks its proposer instead of joining elsewhere")
        #expect(node.statusAnswered(ProposalID(proposer: "a", sequence: 1), status: .abandoned, now: .zero).contains(.persistPromise(nil)))
        #expect(node.promise == nil)
    }

    @Test func aNodeWithClusterStateSkipsFormationAndNeverTimesOut() {
        var node = engine("a", hasState: true)
        #expect(node.start(now: .zero) == [.finished(.existingState)])
        #expect(node.roundTimerFired(now: .seconds(1000)).isEmpty)
    }

    @Test func aFreshNodeGivesUpAtItsTimeout() {
        var settings = BootstrapEngine.Settings(me: peer("a"), cluster: "disco", expect: 3)
        settings.timeout = .seconds(120)
        var node = BootstrapEngine(settings: settings, seed: 1)
        _ = node.start(now: .zero)
        #expect(node.roundTimerFired(now: .seconds(60)) == [.lookup])
        #expect(node.roundTimerFired(now: .seconds(120)).contains(.finished(.timedOut)))
    }

    @Test func threeNodesNotifyingEachOtherFormOneClusterProposedByTheSmallestID() throws {
        var a = engine("a"), b = engine("b"), c = engine("c")
        let targets = ["a", "b", "c"].map { PeerAddress(host: $0, port: 4001) }
        for node in [0, 1, 2] {
            var engine = [a, b, c][node]
            _ = engine.start(now: .zero)
            _ = engine.lookupCompleted(.success(targets), now: .zero)
            _ = engine.joinCompleted(.noCluster, now: .zero)
            switch node { case 0: a = engine; case 1: b = engine; default: c = engine }
        }
        // Everyone hears everyone.
        for (sender, receivers) in [(peer("b"), ["a", "c"]), (peer("c"), ["a", "b"]), (peer("a"), ["b", "c"])] {
            for receiver in receivers {
                let request = NotifyRequest(sender: sender, cluster: "disco", expect: 3, known: [])
                switch receiver {
                case "a": _ = a.handleNotify(request, now: .zero)
                case "b": _ = b.handleNotify(request, now: .zero)
                default: _ = c.handleNotify(request, now: .zero)
                }
            }
        }
        var proposals: [Proposal] = []
        for (name, target) in [("b", targets[1]), ("c", targets[2])] {
            for effect in a.notifyAnswered(target: target, reply: .forming(responder: peer(name), known: []), now: .zero) {
                if case .propose(let proposal, _) = effect { proposals.append(proposal) }
            }
        }
        for (name, target) in [("a", targets[0]), ("c", targets[2])] {
            for effect in b.notifyAnswered(target: target, reply: .forming(responder: peer(name), known: []), now: .zero) {
                if case .propose = effect { Issue.record("b is not the smallest ID and must not propose") }
            }
        }
        #expect(proposals.count == 1)
        let proposal = try #require(proposals.first)
        #expect(proposal.voters.map(\.id.rawValue) == ["a", "b", "c"])
        #expect(b.handleProposal(proposal, now: .zero).0 == .accepted)
        #expect(c.handleProposal(proposal, now: .zero).0 == .accepted)
        _ = a.proposalAnswered(from: "b", id: proposal.id, reply: .accepted, now: .zero)
        let last = a.proposalAnswered(from: "c", id: proposal.id, reply: .accepted, now: .zero)
        #expect(last.contains(.bootstrap(voters: proposal.voters)))
        #expect(a.status(of: proposal.id) == .bootstrapped)
    }

    /// A proposer that joins an existing cluster while its proposal is still open gives the
    /// proposal up, on disk too: after a restart, its own proposal beside Raft state would
    /// otherwise read as the one it bootstrapped.
    @Test func aProposerThatJoinsElsewhereReleasesItsProposal() throws {
        var a = engine("a", expect: 2)
        let b = PeerAddress(host: "b", port: 4001)
        _ = a.start(now: .zero)
        _ = a.lookupCompleted(.success([b]), now: .zero)
        _ = a.joinCompleted(.noCluster, now: .zero)
        let proposed = a.notifyAnswered(target: b, reply: .forming(responder: peer("b"), known: []), now: .zero)
        let proposal = try #require(a.promise)
        #expect(proposed.contains(.propose(proposal, to: [peer("b")])))
        #expect(a.roundTimerFired(now: .seconds(1)) == [.lookup])
        #expect(a.lookupCompleted(.success([b]), now: .seconds(1)) == [.join([b])])
        let joined = a.joinCompleted(.joined, now: .seconds(1))
        #expect(joined.contains(.persistPromise(nil)), "\(joined)")
        #expect(joined.contains(.abandon(proposal.id, to: [])))
        #expect(joined.last == .finished(.joined))
        #expect(a.status(of: proposal.id) == .abandoned)
    }

    /// A proposal whose record the shell could not write is given up unsent: a late acceptance
    /// of it bootstraps nothing, and the next round can propose again.
    @Test func aProposalThatCouldNotBeRecordedIsGivenUpAndNeverBootstraps() throws {
        var a = engine("a", expect: 2)
        let b = PeerAddress(host: "b", port: 4001)
        _ = a.start(now: .zero)
        _ = a.lookupCompleted(.success([b]), now: .zero)
        _ = a.joinCompleted(.noCluster, now: .zero)
        _ = a.notifyAnswered(target: b, reply: .forming(responder: peer("b"), known: []), now: .zero)
        let proposal = try #require(a.promise)
        _ = a.proposalNotRecorded(proposal.id, reason: "disk full", now: .zero)
        #expect(a.promise == nil)
        #expect(a.status(of: proposal.id) == .abandoned)
        let late = a.proposalAnswered(from: "b", id: proposal.id, reply: .accepted, now: .zero)
        #expect(!late.contains(.bootstrap(voters: proposal.voters)), "\(late)")
        #expect(a.outcome == nil)
        #expect(a.roundTimerFired(now: .seconds(1)) == [.lookup])
    }

    /// `-bootstrap-expect 1` when discovery finds only this node (its own address is filtered
    /// out): no notify round can ever complete, and the node bootstraps alone at once.
    @Test func expectOneWithOnlyItselfDiscoveredBootstrapsAlone() {
        var a = engine("a", expect: 1)
        #expect(a.start(now: .zero) == [.lookup])
        let effects = a.lookupCompleted(.success([PeerAddress(host: "a", port: 4001)]), now: .zero)
        #expect(effects.contains(.bootstrap(voters: [peer("a")])), "\(effects)")
        #expect(a.outcome == .bootstrapped)
    }
}
