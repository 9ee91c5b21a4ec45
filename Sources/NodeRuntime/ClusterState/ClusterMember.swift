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
    /// SHA-256 of the node's own key (empty when unknown): a request that moves this member to
    /// new addresses proves it comes from the node by presenting the key.
    public var keyHash: [UInt8]
    /// The roles the node announced when it joined (``RoleNames``), sorted, each once.
    public var roles: [String]
    /// The member's own generation: a number only the node itself advances (once at each start,
    /// persisted in its data directory), carried with every self-description. An upsert with a
    /// lower generation than the recorded one is stale and is not applied
    /// (``ClusterState/apply(_:index:)``). 0 means unknown (records from before generations).
    public var generation: UInt64

    /// Length of a key hash (SHA-256).
    public static let keyHashLength = 32

    public init(id: NodeID, raftAddress: String, apiAddress: String, voter: Bool, keyHash: [UInt8] = [], roles: [String] = [],
                generation: UInt64 = 0) {
        self.id = id
        self.raftAddress = raftAddress
        self.apiAddress = apiAddress
        self.voter = voter
        self.keyHash = keyHash
        self.roles = roles
        self.generation = generation
    }

    public var description: String {
        "\(id) (raft \(raftAddress), api \(apiAddress), \(voter ? "voter" : "non-voter")\(keyHash.isEmpty ? "" : ", key known")"
            + (roles.isEmpty ? "" : ", roles \(roles.joined(separator: ","))")
            + (generation == 0 ? ")" : ", generation \(generation))")
    }

    /// Whether `other` is this member at the same addresses.
    func hasSameAddresses(as other: ClusterMember) -> Bool {
        raftAddress == other.raftAddress && apiAddress == other.apiAddress
    }

    // MARK: Coding

    /// Why this member cannot be encoded, or nil (each name at most 255 UTF-8 bytes, a key hash
    /// empty or 32 bytes).
    func encodingProblem(field prefix: String) -> (field: String, message: String)? {
        for (field, text) in [("id", id.rawValue), ("raftAddress", raftAddress), ("apiAddress", apiAddress)] {
            if let problem = ClusterFieldCheck.nameProblem(text) { return ("\(prefix)\(field)", problem) }
        }
        if !keyHash.isEmpty, keyHash.count != Self.keyHashLength {
            return ("\(prefix)keyHash", "expected 0 or \(Self.keyHashLength) bytes, found \(keyHash.count)")
        }
        if let problem = RoleNames.problem(with: roles) { return ("\(prefix)roles", problem) }
        if roles.count > RoleNames.maxCount { return ("\(prefix)roles", "\(roles.count) roles exceed the limit of \(RoleNames.maxCount)") }
        return nil
    }

    /// Writes the member; `withKeyHash` false writes the original layout (without the hash),
    /// `withRoles` false the layout before roles, `withGeneration` false the layout before
    /// generations.
    func encode(into writer: inout ClusterByteWriter, withKeyHash: Bool = true, withRoles: Bool = true, withGeneration: Bool = true) {
        writer.name(id.rawValue)
        writer.name(raftAddress)
        writer.name(apiAddress)
        writer.bool(voter)
        if withKeyHash {
            writer.u8(UInt8(truncatingIfNeeded: keyHash.count))
            writer.bytes.append(contentsOf: keyHash)
        }
        if withRoles {
            writer.u8(UInt8(truncatingIfNeeded: roles.count))
            for role in roles { writer.name(role) }
        }
        if withGeneration { writer.u64(generation) }
    }

    static func decode(from reader: inout ClusterByteReader, field prefix: String, withKeyHash: Bool = true,
                       withRoles: Bool = true, withGeneration: Bool = true) throws(ClusterCodingError) -> ClusterMember {
        let id = try reader.nodeID(prefix + "id")
        let raftAddress = try reader.name(prefix + "raftAddress")
        let apiAddress = try reader.name(prefix + "apiAddress")
        let voter = try reader.bool(prefix + "voter")
        var keyHash: [UInt8] = []
        if withKeyHash {
            let start = reader.offset
            let length = Int(try reader.u8(prefix + "keyHash.length"))
            guard length == 0 || length == keyHashLength else {
                throw reader.error(.invalidValue, prefix + "keyHash.length", at: start,
                                   "expected 0 (no key) or \(keyHashLength) (SHA-256), found \(length)")
            }
            for _ in 0..<length { keyHash.append(try reader.u8(prefix + "keyHash")) }
        }
        var roles: [String] = []
        if withRoles {
            let start = reader.offset
            let count = Int(try reader.u8(prefix + "roles.count"))
            guard count <= RoleNames.maxCount else {
                throw reader.error(.invalidValue, prefix + "roles.count", at: start, "expected at most \(RoleNames.maxCount) roles, found \(count)")
            }
            for position in 0..<count {
                let roleStart = reader.offset + 1
                let role = try reader.name(prefix + "roles[\(position)]")
                if let problem = RoleNames.problem(with: role) { throw reader.error(.invalidValue, prefix + "roles[\(position)]", at: roleStart, problem) }
                roles.append(role)
            }
        }
        let generation = withGeneration ? try reader.u64(prefix + "generation") : 0
        return ClusterMember(id: id, raftAddress: raftAddress, apiAddress: apiAddress, voter: voter, keyHash: keyHash, roles: roles,
                             generation: generation)
    }
}
