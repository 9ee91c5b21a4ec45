import DiscoCore

// MARK: - ClusterMember

/// A node of the cluster as the replicated state records it: its identity, where peers reach
/// its Raft (and SWIM) listener, where clients reach its HTTP API, and whether it votes.
public struct ClusterMember: Hashable, Sendable, CustomStringConvertible {
    /// The node's stable identity.
    public var id: NodeID
    /// The advertised Raft address, `host:port` (SWIM uses UDP on the same port).
    public var raftAddress: String
    /// The advertised HTTP API address, `host:port`.
    public var apiAddress: String
    /// Whether the node is a Raft voter (false: a non-voting learner).
    public var voter: Bool

    public init(id: NodeID, raftAddress: String, apiAddress: String, voter: Bool) {
        self.id = id
        self.raftAddress = raftAddress
        self.apiAddress = apiAddress
        self.voter = voter
    }

    public var description: String {
        "\(id) (raft \(raftAddress), api \(apiAddress), \(voter ? "voter" : "non-voter"))"
    }

    // MARK: Coding

    /// Why this member cannot be encoded, or nil (each name at most 255 UTF-8 bytes).
    func encodingProblem(field prefix: String) -> (field: String, message: String)? {
        for (field, text) in [("id", id.rawValue), ("raftAddress", raftAddress), ("apiAddress", apiAddress)] {
            if let problem = ClusterFieldCheck.nameProblem(text) { return ("\(prefix)\(field)", problem) }
        }
        return nil
    }

    func encode(into writer: inout ClusterByteWriter) {
        writer.name(id.rawValue)
        writer.name(raftAddress)
        writer.name(apiAddress)
        writer.bool(voter)
    }

    static func decode(from reader: inout ClusterByteReader, field prefix: String) throws(ClusterCodingError) -> ClusterMember {
        let id = try reader.nodeID(prefix + "id")
        let raftAddress = try reader.name(prefix + "raftAddress")
        let apiAddress = try reader.name(prefix + "apiAddress")
        let voter = try reader.bool(prefix + "voter")
        return ClusterMember(id: id, raftAddress: raftAddress, apiAddress: apiAddress, voter: voter)
    }
}
