import DiscoCore

// MARK: - Member

extension SWIM {
    /// What a member is believed to be. Ordered by precedence at equal incarnation.
    public enum MemberStatus: UInt8, Sendable, Hashable, CustomStringConvertible {
        case alive = 0
        case suspect = 1
        case dead = 2
        case left = 3

        /// Alive or suspect: still probed and gossiped to.
        public var isLive: Bool { self == .alive || self == .suspect }

        public var description: String {
            switch self {
            case .alive: "alive"
            case .suspect: "suspect"
            case .dead: "dead"
            case .left: "left"
            }
        }
    }

    /// Application data a member announces, versioned by its incarnation number.
    public struct Metadata: Sendable, Hashable {
        /// The member's HTTP API address, if it serves one.
        public var apiAddress: PeerAddress?
        /// Roles the member holds (free-form names).
        public var roles: [String]
        /// A monotonically increasing application epoch.
        public var epoch: UInt64
        /// Whether the member is a Raft voter.
        public var isVoter: Bool

        public init(apiAddress: PeerAddress? = nil, roles: [String] = [], epoch: UInt64 = 0, isVoter: Bool = false) {
            self.apiAddress = apiAddress
            self.roles = roles
            self.epoch = epoch
            self.isVoter = isVoter
        }
    }

    /// One member as seen by the local instance.
    public struct Member: Sendable, Hashable, CustomStringConvertible {
        public var id: NodeID
        /// Where the member receives SWIM packets (and push-pull connections).
        public var address: PeerAddress
        public var incarnation: UInt64
        public var status: MemberStatus
        public var metadata: Metadata
        /// Local time of the last status change (used to reap tombstones).
        public var statusChangedAt: Duration

        public init(id: NodeID, address: PeerAddress, incarnation: UInt64, status: MemberStatus,
                    metadata: Metadata, statusChangedAt: Duration) {
            self.id = id
            self.address = address
            self.incarnation = incarnation
            self.status = status
            self.metadata = metadata
            self.statusChangedAt = statusChangedAt
        }

        /// The member as a full-state record for push-pull.
        public var state: MemberState {
            MemberState(id: id, address: address, incarnation: incarnation, status: status, metadata: metadata)
        }

        public var description: String { "\(id)@\(address) \(status)#\(incarnation)" }
    }

    /// One member's record in a push-pull exchange.
    public struct MemberState: Sendable, Hashable {
        public var id: NodeID
        public var address: PeerAddress
        public var incarnation: UInt64
        public var status: MemberStatus
        public var metadata: Metadata

        public init(id: NodeID, address: PeerAddress, incarnation: UInt64, status: MemberStatus, metadata: Metadata) {
            self.id = id
            self.address = address
            self.incarnation = incarnation
            self.status = status
            self.metadata = metadata
        }
    }

    /// Notifications about other members, in the order they happened.
    public enum MemberEvent: Sendable, Hashable {
        /// A member became known, or came back after being dead or having left.
        case joined(Member)
        /// A member is suspected of having failed.
        case suspect(Member)
        /// A suspected member refuted the suspicion.
        case alive(Member)
        /// A member was declared dead.
        case dead(Member)
        /// A member left gracefully.
        case left(Member)
        /// A member announced new metadata or a new address.
        case metadataUpdated(Member)

        /// The member the event is about.
        public var member: Member {
            switch self {
            case .joined(let m), .suspect(let m), .alive(let m), .dead(let m), .left(let m), .metadataUpdated(let m): m
            }
        }
    }
}
