import Bootstrap
import DiscoAuth
import DiscoCore
import Synchronization
import DiscoNet

/// A rejoin (a join carrying the node's epoch) from a node that is no longer a member.
struct RejoinRefusal: Error {
    let node: NodeID
}

/// A join describing an older generation of the node than the one recorded (sent before the
/// node's latest restart and delivered late).
struct StaleSelfDescription: Error {
    let node: NodeID
    let generation: UInt64
    let recorded: UInt64
}

// MARK: - Join, remove, notify

extension Node {
    var localPeer: BootstrapPeer {
        BootstrapPeer(id: id, raftAddress: raftAddress.description, apiAddress: apiAddress.description, voter: configuration.cluster.voter,
                      keyHash: keyHash.hexString, roles: announcedRoles, generation: directory.generation)
    }

    /// This node's key as sent in rejoin notifies and joins.
    var nodeKeyText: String { directory.nodeKey.hex }

    var clusterName: String { store.cluster ?? configuration.cluster.name }

    /// Whether this node belongs to a cluster (it has a Raft configuration).
    var isClustered: Bool { !consensus.status.members.isEmpty }

    /// `POST /join`: the leader adds the node (idempotently); followers redirect to the leader.
    /// The joining node is described in the body; a query is a 400 naming it (no version of
    /// Disco's joiner, nor rqlite's HTTP one, sends a query, and the redirect keeps none).
    func join(_ request: HTTPRequest) async -> HTTPResponse {
        if let error = APIQuery.refusal(request.query, of: "POST /join",
                                    usage: #"the body describes the joining node: {"id","addr","api_addr","voter","cluster"}"#) {
            return error.response
        }
        let joining: JoinRequest
        do {
            joining = try BootstrapWire.decodeJoinRequest(request.body)
        } catch {
            return APIResponse.error(400, "\(error)")
        }
        let joiner = joining.node.id
        guard joining.cluster == clusterName else {
            return APIResponse.error(409, "cluster name mismatch: node \(joiner) wants cluster \(joining.cluster.debugDescription), "
                + "this cluster is \(clusterName.debugDescription); start it with -cluster-name \(clusterName) or point it at its own cluster")
        }
        if let theirs = joining.epoch, let ours = store.epoch, theirs != ours {
            return APIResponse.error(409, "epoch mismatch: node \(joiner) belongs to epoch \(theirs) of cluster \(clusterName.debugDescription), "
                + "this cluster is epoch \(ours) (it was bootstrapped again since); wipe node \(joiner)'s data directory to join it as a new node")
        }
        guard let raft = try? PeerAddress(parsing: joining.node.raftAddress),
              let api = try? PeerAddress(parsing: joining.node.apiAddress)
        else { return APIResponse.error(400, "\"addr\" and \"api_addr\" must be host:port addresses") }
        if joiner == id, raft != raftAddress {
            return APIResponse.error(409, "node ID \(id) is already used by \(apiAddress.url); every node needs its own -node-id")
        }
        let (refusal, proven) = await checkIdentity(of: joiner, at: MemberAddresses(raft: raft, api: api), nodeKey: joining.nodeKey,
                                                    request: request, what: "join")
        if let refusal { return refusal }
        if let refusal = await checkRewrite(of: joiner, proven: proven, nodeKey: joining.nodeKey, request: request) { return refusal }
        book.learn(joiner, raftAddress: raft, apiAddress: api, voter: joining.node.voter, generation: joining.node.generation ?? 0,
                   source: proven ? .proven : .join)
        noteRoles(announcedBy: joining.node)
        let status = consensus.status
        guard status.isLeader else { return notLeaderResponse(path: "/join") }
        do {
            try await membershipChanges.withLock {
                try await retryingWhileBusy {
                    try await ensureInitialized()
                    var current = consensus.status
                    if !current.members.contains(joiner), joining.epoch != nil {
                        // A node with state asking to be readmitted, but it is not a member: it
                        // was removed (or reaped). It comes back only as a new member. Said only
                        // once a quorum confirms this node still leads: a leader cut off from the
                        // rest may not know that a newer leader added the node.
                        try await consensus.confirmLeadership()
                        current = consensus.status
                        if !current.members.contains(joiner) { throw RejoinRefusal(node: joiner) }
                    }
                    // A joiner that does not say its generation (an older version) keeps the recorded one.
                    let recorded = store.member(joiner)
                    let generation = joining.node.generation ?? recorded?.generation ?? 0
                    if let recorded, generation < recorded.generation {
                        throw StaleSelfDescription(node: joiner, generation: generation, recorded: recorded.generation)
                    }
                    let record = ClusterMember(id: joiner, raftAddress: raft.description, apiAddress: api.description,
                                               voter: joining.node.voter || current.voters.contains(joiner),
                                               keyHash: keyHash(for: joining), roles: RoleNames.normalized(joining.node.roles),
                                               generation: generation)
                    if recorded != record {
                        _ = try await consensus.propose(try ClusterCommand.upsertMember(record).encode())
                    }
                    if !current.members.contains(joiner) {
                        // Every node joins as a learner: the change commits without it, so it
                        // can learn the leader's address from this answer before it counts
                        // towards a quorum. Voters are promoted by reconciliation.
                        try await consensus.addLearner(joiner)
                        logger.info("added node \(joiner) at \(api.url) as a learner\(joining.node.voter ? "; it becomes a voter once caught up" : " (non-voter)")")
                    }
                }
            }
        } catch let error as ConsensusError where error.code == .notLeader {
            return notLeaderResponse(path: "/join")
        } catch let stale as StaleSelfDescription {
            return APIResponse.error(409, "node \(stale.node)'s join describes its generation \(stale.generation), but the cluster recorded "
                + "generation \(stale.recorded): the request was sent before the node's latest restart; the newer record stands")
        } catch let refusal as RejoinRefusal {
            return APIResponse.error(410, "node \(refusal.node) is not a member of cluster \(clusterName.debugDescription) any more: it was removed; "
                + "start it with -join to join again as a new member (it sets its old Raft state aside)")
        } catch {
            return Self.response(for: error)
        }
        if proven { logger.info("member \(joiner) proved it moved to \(raft) (API \(api.url)); the change is committed") }
        metrics.joinsAccepted.add(1, ordering: .relaxed)
        let accepted = JoinAccepted(leader: ClusterLeader(id: id, apiAddress: apiAddress.description, raftAddress: raftAddress.description),
                                    cluster: clusterName, epoch: store.epoch ?? 0)
        return HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], bytes: BootstrapWire.encode(accepted))
    }

    /// With `-auth`, a join naming an existing member rewrites its record (roles, generation,
    /// voter wish), so it must come from that member (its node key) or a user with the `join`
    /// permission: a `join-read-only` caller joins new non-voters only. A member without a
    /// recorded key may still register the key it presents. Nil to go on; else the 403 answer.
    func checkRewrite(of member: NodeID, proven: Bool, nodeKey: String?, request: HTTPRequest) async -> HTTPResponse? {
        guard !authorization.isOpen, !proven, isKnownMember(member) else { return nil }
        if recordedKeyHash(of: member).isEmpty, nodeKey != nil { return nil }
        if await provesIdentity(of: member, nodeKey: nodeKey, request: request) { return nil }
        return APIResponse.error(403, "node \(member) is already a member: a join naming it must carry its node key or come from a user "
            + "with the join permission (join-read-only joins new non-voters only)",
            extra: [.init(key: "permission", value: .string(Permission.join.rawValue))])
    }

    /// The key hash to record for a joiner: the one already recorded, else the hash of the key it
    /// presents, else the hash it announces (a new member registers its key: trust on first use).
    private func keyHash(for joining: JoinRequest) -> [UInt8] {
        let recorded = store.member(joining.node.id)?.keyHash ?? []
        if !recorded.isEmpty { return recorded }
        if let text = joining.nodeKey, let key = NodeKey(hex: text), let hash = try? key.hash() { return hash }
        return joining.node.keyHash.flatMap { [UInt8](hex: $0) } ?? []
    }

    /// `DELETE /remove` `{"id"}`: the leader removes a member from Raft and the replicated state.
    func remove(_ request: HTTPRequest) async -> HTTPResponse {
        let usage = "body must be {\"id\":\"<node id>\"} naming the node to remove"
        if let error = APIQuery.refusal(request.query, of: "\(request.method) /remove", usage: usage) { return error.response }
        let body: JSONValue
        switch parseJSONBody(request.body, usage: usage) {
        case .success(let parsed): body = parsed
        case .failure(let error): return error.response
        }
        guard let object = body.objectValue else { return APIResponse.error(400, usage) }
        if let error = unknownFieldError(in: object, taking: ["id"], usage: usage) { return error.response }
        guard let text = object["id"]?.stringValue, let target = NodeID(text) else { return APIResponse.error(400, usage) }
        let status = consensus.status
        guard status.isLeader else { return notLeaderResponse(path: "/remove") }
        guard status.members.contains(target) || store.member(target) != nil else {
            return APIResponse.error(404, "node \(target) is not a member; members are \(status.members.map(\.rawValue))")
        }
        if target == id {
            do {
                let next = try await consensus.transferLeadership(to: nil)
                guard let leader = info(for: next) else { return APIResponse.error(503, "leadership moved to \(next); retry there") }
                return APIResponse.redirect(toLeader: leader, path: "/remove")
            } catch {
                return Self.response(for: error)
            }
        }
        do {
            try await membershipChanges.withLock {
                try await retryingWhileBusy {
                    if consensus.status.members.contains(target) { try await consensus.removeMember(target) }
                    if store.member(target) != nil {
                        _ = try await consensus.propose(try ClusterCommand.removeMember(target).encode())
                    }
                }
            }
        } catch {
            return Self.response(for: error)
        }
        // The address stays in the book, so the "removed" notice can still reach the node.
        logger.info("removed node \(target)")
        return APIResponse.json(["removed": .string(target.rawValue)])
    }

    /// 307 to the leader, or 503 when none is known.
    func notLeaderResponse(path: String) -> HTTPResponse {
        if let leader = leaderInfo, leader.id != id { return APIResponse.redirect(toLeader: leader, path: path) }
        return APIResponse.error(503, "no leader yet; retry")
    }

    /// Retries a membership change while another one is still committing (Raft allows one at a time).
    func retryingWhileBusy(_ body: () async throws -> Void) async throws {
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as ConsensusError where error.code == .busy && attempt < 50 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    // MARK: Formation requests

    /// `/notify` and `/bootstrap/*`. A node in a cluster answers every notify with "clustered"
    /// (and learns the sender's addresses), whatever its expect value, so restarted nodes find
    /// each other; a forming node hands the request to its bootstrap engine. `/bootstrap/status`
    /// takes `proposer=` and `sequence=`, the others no query (no version of the formation client
    /// sends another): anything else is a 400 naming it.
    func formationRequest(_ request: HTTPRequest, path: String) async -> HTTPResponse {
        if path == "/bootstrap/status" {
            if case .failure(let error) = APIQuery.parse(request.query, of: "GET \(path)", taking: ["proposer", "sequence"]) {
                return error.response
            }
        } else if let error = APIQuery.refusal(request.query, of: "POST \(path)", usage: "the body carries the formation message") {
            return error.response
        }
        var notifying: NotifyRequest?
        if path == "/notify" {
            let notify: NotifyRequest
            do {
                notify = try BootstrapWire.decodeNotifyRequest(request.body)
            } catch {
                return APIResponse.error(400, "\(error)")
            }
            notifying = notify
            if isClustered {
                guard notify.cluster == clusterName else {
                    return APIResponse.error(409, "cluster name mismatch: node \(notify.sender.id) runs cluster \(notify.cluster.debugDescription), "
                        + "this node (\(id)) belongs to cluster \(clusterName.debugDescription)")
                }
                if let refusal = await checkClusteredNotify(notify, request: request) { return refusal }
                let (status, body) = BootstrapWire.encode(NotifyReply.clustered(responder: localPeer))
                return HTTPResponse(status: status, headers: ["Content-Type": "application/json"], bytes: body)
            }
        }
        if let notifying { learn(notifying.sender, source: .notify) }
        guard let shell = runtime.withLock({ $0.bootstrap }) else {
            if path == "/notify" {
                return APIResponse.error(503, "node \(id) is not in a cluster yet and is not forming one with -bootstrap-expect; retry")
            }
            if path == "/bootstrap/status" { return proposalStatusWithoutFormation(request) }
            return APIResponse.error(409, "node \(id) is not forming a cluster with -bootstrap-expect")
        }
        let response = await shell.handle(request) ?? APIResponse.error(404, "no endpoint \(path)")
        if response.status == 409, let notify = notifying { logRefusedNotify(notify) }
        return response
    }

    /// `GET /bootstrap/status` on a node that runs no bootstrap engine: one that restarted with
    /// Raft state (it rejoins instead), or has not started forming yet. A proposal of this node's
    /// recorded in its promise file, with Raft state beside it, is the one it bootstrapped (the
    /// engine releases its own proposal's record whenever it gives the proposal up): its promised
    /// nodes must keep waiting for Raft, not be released to promise themselves elsewhere. While
    /// the consensus has not learned whether it has state (etcd not read yet), that proposal is
    /// "pending": its promised nodes keep waiting.
    private func proposalStatusWithoutFormation(_ request: HTTPRequest) -> HTTPResponse {
        let id: ProposalID
        do {
            id = try BootstrapWire.decodeStatusQuery(request.query)
        } catch {
            return APIResponse.error(400, error.message)
        }
        let recorded = try? PromiseFile(path: directory.promisePath).load()
        let status = consensus.status
        let answer: ProposalStatus
        if recorded?.id != id || id.proposer != self.id {
            answer = .abandoned
        } else if status.hasState {
            answer = .bootstrapped
        } else {
            answer = status.stateKnown ? .abandoned : .pending
        }
        return HTTPResponse(status: 200, headers: ["Content-Type": "application/json"], bytes: BootstrapWire.encode(answer))
    }

    /// Says once per sender and values that a notify was refused for another cluster name or
    /// `-bootstrap-expect` (the sender retries every round; the log should not repeat it).
    private func logRefusedNotify(_ notify: NotifyRequest) {
        let message = "bootstrap: refused notify from node \(notify.sender.id) (\(notify.sender.apiAddress)): it runs cluster "
            + "\(notify.cluster.debugDescription) with -bootstrap-expect \(notify.expect), this node cluster "
            + "\(configuration.cluster.name.debugDescription) with -bootstrap-expect \(configuration.formation.bootstrapExpect); every node must use the same values"
        let first = runtime.withLock { $0.refusalsLogged.insert(message).inserted }
        if first { logger.warning(message) }
    }

    /// Records a peer's addresses heard during formation.
    func learn(_ peer: BootstrapPeer, source: AddressBook.Source) {
        guard let raft = try? PeerAddress(parsing: peer.raftAddress), let api = try? PeerAddress(parsing: peer.apiAddress) else { return }
        book.learn(peer.id, raftAddress: raft, apiAddress: api, voter: peer.voter,
                   keyHash: peer.keyHash.flatMap { [UInt8](hex: $0) } ?? [], generation: peer.generation ?? 0, source: source)
        noteRoles(announcedBy: peer)
    }

    /// Notes the roles `peer` announces in a join or notify, unless it describes an earlier
    /// start than the one recorded or known here (sent before the node's latest restart and
    /// delivered late): a leader commits the roles its book holds, and a late announcement must
    /// not bring back roles the node no longer performs. A peer that does not say its
    /// generation (an older version) is taken at its word.
    func noteRoles(announcedBy peer: BootstrapPeer) {
        guard peer.id != id else { return }
        if let generation = peer.generation, generation != 0 {
            let known = max(store.member(peer.id)?.generation ?? 0, book.entry(peer.id)?.generation ?? 0)
            guard generation >= known else { return }
        }
        book.noteRoles(peer.id, peer.roles)
    }
}
