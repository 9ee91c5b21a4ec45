import DiscoCore
import Testing
@testable import BootstrapCore

/// A promised node waiting for its proposer's verdict.
@Suite struct BootstrapPromiseTests {
    let proposal = Proposal(id: ProposalID(proposer: "a", sequence: 1), cluster: "disco", expect: 3,
                            voters: [Self.peer("a"), Self.peer("b"), Self.peer("c")])

    static func peer(_ id: String, api: String? = nil) -> BootstrapPeer {
        BootstrapPeer(id: NodeID(id) ?? "invalid", raftAddress: "\(id):4002", apiAddress: api ?? "\(id):4001")
    }

    func promised(timeout: Duration? = nil) -> BootstrapEngine {
        var settings = BootstrapEngine.Settings(me: Self.peer("c"), cluster: "disco", expect: 3,
                                                selfAddresses: [PeerAddress(host: "c", port: 4001)])
        settings.timeout = timeout
        return BootstrapEngine(settings: settings, seed: 1, promise: proposal)
    }

    /// The proposer stopped before bootstrapping and came back on a new address: it notifies
    /// from there, and the promised node asks it there (asked at the old address, nobody
    /// answers and the node waits forever).
    @Test func aPromisedNodeAsksItsProposerWhereItLastHeardIt() {
        var node = promised()
        #expect(node.start(now: .zero).contains(.askStatus(proposal.id, proposer: Self.peer("a"))))
        let moved = Self.peer("a", api: "a-moved:4001")
        let (reply, _) = node.handleNotify(NotifyRequest(sender: moved, cluster: "disco", expect: 3, known: [moved]), now: .seconds(1))
        guard case .forming = reply else {
            Issue.record("a promised node answers notifies as forming, got \(reply)")
            return
        }
        let effects = node.roundTimerFired(now: .seconds(2))
        #expect(effects.contains(.askStatus(proposal.id, proposer: moved)), "asked elsewhere: \(effects)")
        #expect(node.statusAnswered(proposal.id, status: .abandoned, now: .seconds(3)).contains(.persistPromise(nil)))
        #expect(node.promise == nil)
    }

    /// Second-hand news (another node's list) does not move the address a first-hand notify gave.
    @Test func secondHandNewsDoesNotOverrideTheProposersOwnNotify() {
        var node = promised()
        _ = node.start(now: .zero)
        let moved = Self.peer("a", api: "a-moved:4001")
        _ = node.handleNotify(NotifyRequest(sender: moved, cluster: "disco", expect: 3, known: []), now: .seconds(1))
        _ = node.handleNotify(NotifyRequest(sender: Self.peer("d"), cluster: "disco", expect: 3, known: [Self.peer("a")]), now: .seconds(1))
        #expect(node.roundTimerFired(now: .seconds(2)).contains(.askStatus(proposal.id, proposer: moved)))
    }

    /// Released by its proposer, a node whose discovery names only stale addresses (the
    /// proposer's old one, a peer gone) tries the voters it heard of at their latest addresses:
    /// the proposer and a smaller ID formed a cluster meanwhile and, finished, never notify it
    /// again, so joining only its discovered targets it would wait forever.
    @Test func aReleasedNodeJoinsThroughThePeersItHeardOf() {
        var node = promised()
        _ = node.start(now: .zero)
        let moved = Self.peer("a", api: "a-moved:4001")
        _ = node.handleNotify(NotifyRequest(sender: moved, cluster: "disco", expect: 3, known: []), now: .seconds(1))
        _ = node.handleNotify(NotifyRequest(sender: Self.peer("0"), cluster: "disco", expect: 3, known: [moved]), now: .seconds(1))
        #expect(node.roundTimerFired(now: .seconds(2)).contains(.askStatus(proposal.id, proposer: moved)))
        _ = node.statusAnswered(proposal.id, status: .abandoned, now: .seconds(3))
        #expect(node.roundTimerFired(now: .seconds(4)) == [.lookup])
        let stale = [PeerAddress(host: "a", port: 4001), PeerAddress(host: "relay", port: 4001)]
        let effects = node.lookupCompleted(.success(stale), now: .seconds(5))
        let heard = [PeerAddress(host: "0", port: 4001), PeerAddress(host: "a-moved", port: 4001)]
        #expect(effects == [.join((stale + heard).sorted())], "joins only where discovery points: \(effects)")
        #expect(node.joinCompleted(.joined, now: .seconds(6)).last == .finished(.joined))
    }

    /// Unanswered until the timeout, the promise is kept (the proposer may have bootstrapped
    /// with it) and named, with where the proposer was asked.
    @Test func aPromisedNodeKeepsAndNamesItsPromiseAtTheTimeout() {
        var node = promised(timeout: .seconds(60))
        _ = node.start(now: .zero)
        #expect(node.statusAnswered(proposal.id, status: nil, now: .seconds(1)).isEmpty, "no answer keeps the promise")
        let effects = node.roundTimerFired(now: .seconds(60))
        #expect(effects.contains(.finished(.timedOut)))
        #expect(!effects.contains(.persistPromise(nil)), "the promise stays on disk")
        #expect(node.unresolvedPromise == UnresolvedPromise(proposal: proposal, proposer: Self.peer("a")))
        let text = node.unresolvedPromise?.description ?? ""
        #expect(text.contains("proposal a#1") && text.contains("a:4001") && text.contains("bootstrap-promise.json"), "\(text)")
    }

    /// A node that was not promised times out as before, with nothing to name.
    @Test func anUnpromisedNodeTimesOutWithoutAPromise() {
        var settings = BootstrapEngine.Settings(me: Self.peer("c"), cluster: "disco", expect: 3)
        settings.timeout = .seconds(60)
        var node = BootstrapEngine(settings: settings, seed: 1)
        _ = node.start(now: .zero)
        #expect(node.roundTimerFired(now: .seconds(60)).contains(.finished(.timedOut)))
        #expect(node.unresolvedPromise == nil)
    }
}
