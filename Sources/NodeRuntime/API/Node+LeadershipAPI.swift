import DiscoCore
import DiscoNet

// MARK: - Leadership transfer

extension Node {
    /// `POST /leader/transfer` `{"id"}` (or no body: any voter): the leader hands leadership to
    /// the named voter with either engine (Raft's TimeoutNow; etcd's election line reordered)
    /// and answers the new leader as `{"leader":{"id","api_addr","addr"},"previous"}`. A follower
    /// redirects to the leader; a target that is not a member is 404, one that is a learner or
    /// not live (SWIM, and for etcd its lease) is 409.
    func transferLeadership(_ request: HTTPRequest) async -> HTTPResponse {
        let usage = "body must be {\"id\":\"<node id>\"} naming the voter to lead, or empty for any voter"
        if let error = APIQuery.refusal(request.query, of: "POST /leader/transfer", usage: usage) { return error.response }
        var target: NodeID?
        if !request.body.isEmpty {
            let object: JSONObject
            switch parseJSONBody(request.body, usage: usage) {
            case .success(let parsed):
                guard let parsedObject = parsed.objectValue else { return APIResponse.error(400, usage) }
                object = parsedObject
            case .failure(let error): return error.response
            }
            if let error = unknownFieldError(in: object, taking: ["id"], usage: usage) { return error.response }
            if let value = object["id"] {
                guard let text = value.stringValue, let id = NodeID(text) else {
                    return APIResponse.error(400, "\"id\" must be a node ID string, e.g. {\"id\":\"node2\"}")
                }
                target = id
            }
        }
        let status = consensus.status
        guard status.isLeader else { return notLeaderResponse(path: "/leader/transfer") }
        if let target {
            guard status.members.contains(target) else {
                return APIResponse.error(404, "node \(target) is not a member; the voters are \(status.voters.map(\.rawValue))")
            }
            guard status.voters.contains(target) else {
                return APIResponse.error(409, "node \(target) is a learner, not a voter; only voters lead (voters: \(status.voters.map(\.rawValue)))")
            }
            if target != id {
                let state = await membership.members().first { $0.id == target }?.state
                guard state == .alive else {
                    return APIResponse.error(409, "node \(target) is not live (SWIM state \(state.map { "\($0)" } ?? "unknown")); choose a live voter")
                }
            }
        }
        do {
            let leader = try await consensus.transferLeadership(to: target)
            logger.info("leadership transferred to \(leader)", metadata: ["requested": "\(target?.rawValue ?? "any voter")"])
            guard let info = info(for: leader) else {
                return APIResponse.json(["leader": ["id": .string(leader.rawValue)], "previous": .string(id.rawValue)])
            }
            return APIResponse.json(["leader": info.json, "previous": .string(id.rawValue)])
        } catch {
            return Self.response(for: error)
        }
    }
}
