import DiscoCore

// MARK: - Waiting on a promise

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
}
