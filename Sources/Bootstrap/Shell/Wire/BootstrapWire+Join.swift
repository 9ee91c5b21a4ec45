import DiscoCore

// MARK: - Join on the wire

extension BootstrapWire {
    /// The body of `POST /join`: `{"id","addr","api_addr","voter","key_hash"?,"roles"?,"generation"?,"cluster","epoch"?,"node_key"?}`.
    public static func encode(_ request: JoinRequest) -> [UInt8] {
        var members = peerObject(request.node).members.map { ($0.key, $0.value) }
        members.append(("cluster", .string(request.cluster)))
        if let epoch = request.epoch { members.append(("epoch", JSONValue(epoch))) }
        if let key = request.nodeKey { members.append(("node_key", .string(key))) }
        return object(members)
    }

    public static func decodeJoinRequest(_ body: [UInt8]) throws(BootstrapWireError) -> JoinRequest {
        let reader = try WireReader(body: body)
        return JoinRequest(node: try peer(from: reader), cluster: try reader.string("cluster", "a cluster name (a non-empty string)"),
                           epoch: try reader.optionalUInt64("epoch"), nodeKey: try reader.optionalHex("node_key", bytes: 32))
    }

    /// `{"id","api_addr","addr"}`.
    public static func leaderObject(_ leader: ClusterLeader) -> JSONValue {
        .object(JSONObject([
            .init(key: "id", value: .string(leader.id.rawValue)),
            .init(key: "api_addr", value: .string(apiURL(leader.apiAddress))),
            .init(key: "addr", value: .string(leader.raftAddress)),
        ]))
    }

    static func leader(from reader: WireReader) throws(BootstrapWireError) -> ClusterLeader {
        ClusterLeader(id: try reader.nodeID("id"), apiAddress: try reader.apiAddress("api_addr"),
                      raftAddress: try reader.raftAddress("addr"))
    }

    /// The 200 body answering a join: `{"leader":{...},"cluster","epoch"}`.
    public static func encode(_ accepted: JoinAccepted) -> [UInt8] {
        object([("leader", leaderObject(accepted.leader)), ("cluster", .string(accepted.cluster)),
                ("epoch", JSONValue(accepted.epoch))])
    }

    public static func decodeJoinAccepted(_ body: [UInt8]) throws(BootstrapWireError) -> JoinAccepted {
        let reader = try WireReader(body: body)
        let leader = try leader(from: WireReader(try reader.required("leader", "an object {\"id\",\"api_addr\",\"addr\"}"), path: "leader"))
        let epoch = try reader.optionalUInt64("epoch")
        guard let epoch else { throw BootstrapWireError(.missingField, field: "epoch", message: "\"epoch\" is missing; expected a non-negative integer") }
        return JoinAccepted(leader: leader, cluster: try reader.string("cluster", "a cluster name (a non-empty string)"), epoch: epoch)
    }

    /// The body of a follower's 307 answer: `{"error":"not the leader","leader":{...}}`.
    public static func notLeaderBody(_ leader: ClusterLeader) -> [UInt8] {
        object([("error", "not the leader"), ("leader", leaderObject(leader))])
    }

    /// The leader named in a body such as the follower's 307 answer or `GET /leader`, if any.
    public static func decodeLeader(in body: [UInt8]) -> ClusterLeader? {
        guard let reader = try? WireReader(body: body), let value = reader.object["leader"],
            let inner = try? WireReader(value, path: "leader")
        else { return nil }
        return try? leader(from: inner)
    }
}
