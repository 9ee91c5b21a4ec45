import DiscoCore

// MARK: - LeaseCommand

/// A change to the replicated lease state: proposed through the Raft leader, applied by every
/// node in log order with ``LeaseTable/apply(_:index:)``.
///
/// Who proposes what: the Raft leader's ``LeaseGrantor`` proposes `grant`; the holder's
/// ``LeaseHolder`` proposes `renew` and `release`; an operator proposes `move`.
public enum LeaseCommand: Hashable, Sendable {
    /// Gives the lease to `to` with the next token, only if the group's last grant, renewal or
    /// release is still the one at log index `expectedLastChange` (compare-and-set): a renewal
    /// committed after the leader looked makes the grant stale.
    case grant(LeaseGroup, to: NodeID, expectedLastChange: UInt64)
    /// Extends the lease of `holder`, sent by its process `incarnation`, for `token`. Refused
    /// unless `holder` holds the lease with that token and no other process of the same node
    /// has renewed it (the first renewal after a grant claims the lease for its process).
    /// `ttl` is the holder's own ``LeaseSettings/ttl`` (the one its renew deadline was checked
    /// against): every grantor waits at least that long, even with a shorter ttl of its own.
    /// Nil from holders that predate it: grantors then wait their own ttl.
    case renew(LeaseGroup, holder: NodeID, incarnation: UInt64, token: UInt64, ttl: Duration? = nil)
    /// Gives the lease up. Refused unless `holder` holds it with `token`, and — when `incarnation`
    /// is given and `ifLastChange` is not — unless no other process of the holder claimed it: a
    /// process releases only its own claim (or an unclaimed grant, whose token nobody acted with),
    /// having stopped acting before it proposes this, so the leader may grant again at once.
    ///
    /// `ifLastChange`: a compare-and-set on the group's last change, for a process that releases
    /// the claim of an earlier process of its node (``LeaseHolder``): it waited out that process's
    /// hot window counted from the claim's latest renewal, so a renewal committed since (the earlier
    /// process is alive after all) must make the release a no-op.
    case release(LeaseGroup, holder: NodeID, token: UInt64, incarnation: UInt64? = nil, ifLastChange: UInt64? = nil)
    /// Asks for a planned switch-over to `to`: the holder stops and releases, then the leader
    /// grants to `to` (when it is eligible) instead of the best-ranked replica.
    case move(LeaseGroup, to: NodeID)

    /// The group the command is about.
    public var group: LeaseGroup {
        switch self {
        case .grant(let group, _, _), .renew(let group, _, _, _, _), .release(let group, _, _, _, _), .move(let group, _): group
        }
    }
}

extension LeaseCommand: CustomStringConvertible {
    public var description: String {
        switch self {
        case .grant(let group, let to, let expected): "grant(\(group), to: \(to), expectedLastChange: \(expected))"
        case .renew(let group, let holder, let incarnation, let token, let ttl):
            "renew(\(group), holder: \(holder), incarnation: \(incarnation), token: \(token)"
                + (ttl.map { ", ttl: \($0))" } ?? ")")
        case .release(let group, let holder, let token, let incarnation, let ifLastChange):
            "release(\(group), holder: \(holder), token: \(token)" + (incarnation.map { ", incarnation: \($0)" } ?? "")
                + (ifLastChange.map { ", ifLastChange: \($0))" } ?? ")")
        case .move(let group, let to): "move(\(group), to: \(to))"
        }
    }
}
