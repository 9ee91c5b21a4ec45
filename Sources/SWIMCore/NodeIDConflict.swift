import DiscoCore

// MARK: - Node ID conflicts

extension SWIM {
    /// Evidence that another live process announces this member's node ID from another address
    /// (two processes started with the same node ID). The two keep outbidding each other's
    /// incarnation, so the rest of the cluster sees the member flap between the two addresses.
    public struct NodeIDConflict: Sendable, Hashable, CustomStringConvertible {
        /// How the conflict was recognised.
        public enum Evidence: Sendable, Hashable, CustomStringConvertible {
            /// A process with this member's ID exchanged full state with this one and described
            /// itself at the other address: a live process speaking for itself.
            case pushPullFromSameID
            /// `count` times within `window`, an "alive" claim for this member's ID at the other
            /// address came with an incarnation above this member's own, so it had to refute.
            /// A dead process cannot keep raising its incarnation above the refutations.
            case repeatedRefutations(count: Int, window: Duration)

            public var description: String {
                switch self {
                case .pushPullFromSameID: "push-pull from a process with this ID"
                case .repeatedRefutations(let count, let window): "\(count) refutations within \(window)"
                }
            }
        }

        /// The node ID both processes use.
        public var id: NodeID
        /// This member's own address.
        public var localAddress: PeerAddress
        /// The address the other process announces for the same ID.
        public var otherAddress: PeerAddress
        /// The incarnation the other process claimed last.
        public var otherIncarnation: UInt64
        /// What gave the conflict away.
        public var evidence: Evidence

        /// Creates a conflict report.
        public init(id: NodeID, localAddress: PeerAddress, otherAddress: PeerAddress, otherIncarnation: UInt64,
                    evidence: Evidence) {
            self.id = id
            self.localAddress = localAddress
            self.otherAddress = otherAddress
            self.otherIncarnation = otherIncarnation
            self.evidence = evidence
        }

        public var description: String {
            "node ID \(id) is used at \(localAddress) and at \(otherAddress) (incarnation \(otherIncarnation), \(evidence))"
        }
    }

    /// Refutations caused by "alive" claims for this member's ID at other addresses, per
    /// address, kept for one window. Bounded: a flood of claims naming random addresses (unsealed
    /// gossip lets anyone send them) keeps only the most recent few addresses.
    struct ConflictTracker: Sendable {
        /// Most addresses tracked at once.
        static let maxAddresses = 16

        private var refutations: [PeerAddress: [Duration]] = [:]

        /// Records a refutation because of a claim at `other`; returns how many fell within
        /// `window` when that reaches `threshold` (and starts counting afresh), else nil.
        mutating func refuted(claimAt other: PeerAddress, now: Duration, threshold: Int, window: Duration) -> Int? {
            var times = (refutations[other] ?? []).filter { now - $0 < window }
            times.append(now)
            if times.count >= threshold {
                refutations[other] = nil
                return times.count
            }
            refutations[other] = times
            if refutations.count > Self.maxAddresses {
                refutations = refutations.filter { $0.value.contains { now - $0 < window } }
            }
            if refutations.count > Self.maxAddresses,
                let stalest = refutations.min(by: { ($0.value.last ?? .zero) < ($1.value.last ?? .zero) })?.key {
                refutations[stalest] = nil
            }
            return nil
        }

        /// Addresses with refutations on record (for tests).
        var trackedAddresses: Int { refutations.count }
    }
}

extension SWIM.Instance {
    /// An "alive" claim for this member's ID at `claimedAddress` with `claimed` above our
    /// incarnation made us refute: count it, and report a conflict when it keeps happening.
    mutating func noteRefutation(ofClaimAt claimedAddress: PeerAddress, incarnation claimed: UInt64, now: Duration) {
        let window = settings.nodeIDConflictWindow
        guard let count = conflicts.refuted(claimAt: claimedAddress, now: now, threshold: settings.nodeIDConflictRefutations,
                                            window: window)
        else { return }
        reportConflict(at: claimedAddress, incarnation: claimed, evidence: .repeatedRefutations(count: count, window: window))
    }

    /// A push-pull state produced by a process with our ID: it is alive right now, and when it
    /// describes itself at another address it is not us.
    mutating func checkForDuplicate(in remote: SWIM.PushPullState) {
        guard remote.sender == id, let claim = remote.members.first(where: { $0.id == id }), claim.address != address else { return }
        reportConflict(at: claim.address, incarnation: claim.incarnation, evidence: .pushPullFromSameID)
    }

    mutating func reportConflict(at other: PeerAddress, incarnation: UInt64, evidence: SWIM.NodeIDConflict.Evidence) {
        effects.append(.nodeIDConflict(SWIM.NodeIDConflict(id: id, localAddress: address, otherAddress: other,
                                                           otherIncarnation: incarnation, evidence: evidence)))
    }
}
