import DiscoCore

// MARK: - Waiting on a promise

/// A promise this node gave up waiting on at its timeout: it stays on disk, binding, because the
/// proposer never said what became of the proposal.
///
/// Neither silence nor time releases a promise. The proposer bootstraps as soon as the last
/// promise arrives, so one that stopped right after bootstrapping, before its Raft reached any
/// voter, looks exactly like one that stopped before: no answer, no Raft traffic. Its data
/// directory then holds a cluster of these voters, and a voter that had let go and formed
/// another cluster could, when that node comes back, grant its Raft election (a vote request
/// names no cluster) and take its log: one node in two clusters. Only the proposer, the same ID
/// with its data directory on whatever address, can say "abandoned"; an operator who knows that
/// node and its data are gone for good can delete the promise file.
public struct UnresolvedPromise: Hashable, Sendable, CustomStringConvertible {
    public var proposal: Proposal
    /// The proposer where it was last asked (``BootstrapPeer/apiAddress``).
    public var proposer: BootstrapPeer

    public init(proposal: Proposal, proposer: BootstrapPeer) {
        self.proposal = proposal
        self.proposer = proposer
    }

    /// What an operator reads: the promise, where its proposer was asked, why the promise is
    /// kept, and the two ways out.
    public var description: String {
        "this node is still promised to proposal \(proposal.id) of node \(proposal.id.proposer), which never answered at "
            + "\(proposer.apiAddress) what became of it. The promise is kept: node \(proposal.id.proposer) may have created the cluster "
            + "with it. Start node \(proposal.id.proposer) again (with its data directory, on any address), or, only if that node and its "
            + "data directory are gone for good, delete bootstrap-promise.json from the data directory of every node promised to it"
    }
}

extension BootstrapEngine {
    /// Where a promised node asks about `proposal`: at its proposer's address as last heard
    /// first-hand (its notifies), else as the proposal names it.
    ///
    /// A proposer that stopped before bootstrapping comes back under the same ID and data
    /// directory, possibly on a new address (a replaced pod gets a new IP). It disowns the
    /// proposals of its previous run (it answers `abandoned`, having no Raft state) and proposes
    /// again with a later sequence, which supersedes the promise of every node it proposes to.
    /// A promised node it does not propose to again (a smaller ID now proposes, or the node was
    /// silent and left out) learns the verdict only by asking, and asked at the old address it
    /// would wait forever, refusing every other proposal. Asking the new address is as safe as
    /// asking the old one: the answer comes from the same node and the same data directory,
    /// the only record of whether it bootstrapped.
    func proposer(of proposal: Proposal) -> BootstrapPeer {
        known[proposal.id.proposer]?.peer ?? proposal.voters[0]
    }

    /// Ends formation at the timeout. A promised node keeps its promise (only its proposer can
    /// release it; see ``UnresolvedPromise``) and says so.
    mutating func timeOut(_ timeout: Duration) -> [BootstrapEffect] {
        guard case .promised(let proposal) = phase else {
            return finish(.timedOut, log: "bootstrap: gave up after \(timeout) without forming or joining a cluster")
        }
        let unresolved = UnresolvedPromise(proposal: proposal, proposer: proposer(of: proposal))
        unresolvedPromise = unresolved
        return finish(.timedOut, log: "bootstrap: gave up after \(timeout) without forming or joining a cluster; \(unresolved)")
    }
}
