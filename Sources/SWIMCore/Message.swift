import DiscoCore

// MARK: - Messages

extension SWIM {
    /// A probe sequence number.
    public typealias Sequence = UInt32

    /// The protocol message a packet carries; gossip rides along on every packet.
    public enum Message: Sendable, Hashable {
        /// Are you alive? `target` names the member the sender means to reach, so a different
        /// node now living at that address does not answer for it.
        case ping(sequence: Sequence, source: NodeID, target: NodeID)
        /// Answer to a ping (or a forwarded answer from an indirect-probe helper).
        case ack(sequence: Sequence, source: NodeID)
        /// From a helper: the target did not answer my ping in time (Lifeguard).
        case nack(sequence: Sequence)
        /// Please ping `target` at `targetAddress` for me and forward the answer.
        case pingRequest(sequence: Sequence, source: NodeID, target: NodeID, targetAddress: PeerAddress)
        /// Nothing but gossip.
        case gossip
    }

    /// One membership update spread by gossip.
    public enum GossipItem: Sendable, Hashable {
        case alive(id: NodeID, incarnation: UInt64, address: PeerAddress, metadata: Metadata)
        case suspect(id: NodeID, incarnation: UInt64, accuser: NodeID)
        case dead(id: NodeID, incarnation: UInt64, accuser: NodeID)
        case left(id: NodeID, incarnation: UInt64)

        /// The member the item is about.
        public var subject: NodeID {
            switch self {
            case .alive(let id, _, _, _), .suspect(let id, _, _), .dead(let id, _, _), .left(let id, _): id
            }
        }

        public var incarnation: UInt64 {
            switch self {
            case .alive(_, let inc, _, _), .suspect(_, let inc, _), .dead(_, let inc, _), .left(_, let inc): inc
            }
        }
    }

    /// What travels in one UDP datagram.
    public struct Packet: Sendable, Hashable {
        public var message: Message
        public var gossip: [GossipItem]

        public init(message: Message, gossip: [GossipItem] = []) {
            self.message = message
            self.gossip = gossip
        }
    }

    /// The full membership state exchanged in a push-pull (carried over TCP by the shell).
    public struct PushPullState: Sendable, Hashable {
        /// The member that produced this state.
        public var sender: NodeID
        /// Whether the sender is joining (it then knows nobody yet).
        public var isJoin: Bool
        public var members: [MemberState]

        public init(sender: NodeID, isJoin: Bool, members: [MemberState]) {
            self.sender = sender
            self.isJoin = isJoin
            self.members = members
        }
    }
}
