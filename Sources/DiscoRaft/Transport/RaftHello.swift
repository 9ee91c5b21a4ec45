import DiscoCore
import DiscoNet

// MARK: - The cluster name at the start of a connection

/// The first frame a sender that knows its cluster's name writes on each connection, so a node
/// of another cluster at a reused address refuses the connection before reading any Raft
/// message from it (a node without Raft state would otherwise follow the first leader that
/// reaches it).
///
/// It is an ordinary message frame (type 1, sealed like any other when the transport is
/// protected) holding a message no Raft node acts on: to ``recipient``, from the cluster name,
/// term 0, a pre-vote refusal. A receiver of this build reads the name from it and never
/// delivers it; a receiver of an older build decodes it as a message for another node and drops
/// it (counted as misdirected), so senders need not know which build they reach.
///
/// A connection whose first message is not a hello comes from a sender that names no cluster
/// (an older build, or a transport without ``RaftTransportOptions/clusterName``): it is accepted
/// and counted in ``RaftTransportMetrics/unlabelledConnections``, as gossip accepts unlabelled
/// messages during an upgrade.
public enum RaftHello {
    /// The reserved recipient that marks a hello (``NodeID/raftHelloRecipient``): no node may
    /// take it as its ID.
    public static let recipient: NodeID = .raftHelloRecipient

    /// The hello naming `cluster`, or nil when `cluster` is not a valid name (see
    /// ``RaftTransportOptions/validate()``).
    public static func message(cluster: String) -> Message? {
        guard let name = NodeID(cluster) else { return nil }
        return Message(from: name, to: recipient, term: 0, body: .preVoteResponse(granted: false))
    }

    /// The hello frame naming `cluster` (nil when `cluster` is not a valid name).
    public static func frame(cluster: String) -> Frame? {
        message(cluster: cluster).map { Frame(type: RaftWireFormat.messageFrameType, payload: RaftCodec.encode($0)) }
    }

    /// The cluster `frame` names when it is a hello (already unsealed); nil for any other frame.
    public static func cluster(in frame: Frame) -> String? {
        guard frame.type == RaftWireFormat.messageFrameType,
              let message = try? RaftCodec.decodeMessage(frame.payload) else { return nil }
        return cluster(in: message)
    }

    /// The cluster `message` names when it is a hello; nil for any other message.
    public static func cluster(in message: Message) -> String? {
        guard message.to == recipient, message.term == 0, message.body == .preVoteResponse(granted: false) else { return nil }
        return message.from.rawValue
    }
}
