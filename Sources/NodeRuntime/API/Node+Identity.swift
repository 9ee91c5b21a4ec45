import Bootstrap
import DiscoAuth
import DiscoCore
import DiscoNet
import Synchronization

// MARK: - Identity is not an address

/// A member's addresses as the cluster knows them.
struct MemberAddresses: Hashable, Sendable, CustomStringConvertible {
    var raft: PeerAddress
    var api: PeerAddress

    var description: String { "\(raft) (API \(api.url))" }
}

extension Node {
    /// Whether `node` belongs to the cluster: in the consensus configuration or the replicated
    /// member records.
    func isKnownMember(_ node: NodeID) -> Bool {
        consensus.status.members.contains(node) || store.member(node) != nil
    }

    /// Where the cluster knows `member` to be: its replicated record, else a trusted address book
    /// entry (a founder before its record is written).
    func currentAddresses(of member: NodeID) -> MemberAddresses? {
        if let record = store.member(member), let raft = try? PeerAddress(parsing: record.raftAddress),
           let api = try? PeerAddress(parsing: record.apiAddress) {
            return MemberAddresses(raft: raft, api: api)
        }
        guard let entry = book.entry(member), entry.source.isTrusted else { return nil }
        return MemberAddresses(raft: entry.raftAddress, api: entry.apiAddress)
    }

    /// The SHA-256 of `member`'s node key, as recorded (empty when unknown).
    func recordedKeyHash(of member: NodeID) -> [UInt8] {
        if let hash = store.member(member)?.keyHash, !hash.isEmpty { return hash }
        guard let entry = book.entry(member), entry.source.isTrusted else { return [] }
        return entry.keyHash
    }

    /// Whether a request naming `member` proves it comes from that node: it carries the node's
    /// key (checked against the recorded hash in constant time), or `-auth` credentials of a user
    /// with the `join` permission (anonymous callers never prove anything).
    func provesIdentity(of member: NodeID, nodeKey: String?, request: HTTPRequest) async -> Bool {
        if let nodeKey, NodeKey.proves(nodeKey, hash: recordedKeyHash(of: member)) { return true }
        guard !authorization.isOpen, let caller = await authorization.caller(of: request), caller.username != nil else { return false }
        return caller.may(.join)
    }

    /// Checks a join or notify that names `member` at `claimed` addresses. Nil when it may go
    /// on: the node is new, or at the addresses the cluster knows, or proved it is the member
    /// (then `proven` is set). Otherwise the 409 answer naming the member and its addresses.
    func checkIdentity(of member: NodeID, at claimed: MemberAddresses, nodeKey: String?, request: HTTPRequest,
                       what: String) async -> (refusal: HTTPResponse?, proven: Bool) {
        guard isKnownMember(member) else { return (nil, false) }
        let current = currentAddresses(of: member)
        if current == claimed { return (nil, false) }
        if await provesIdentity(of: member, nodeKey: nodeKey, request: request) { return (nil, true) }
        guard current != nil || !recordedKeyHash(of: member).isEmpty else {
            // A member this node knows of only from Raft's configuration (it restarted and has not
            // applied the member records yet): nothing to check against yet, so not a refusal.
            return (APIResponse.error(503, "node \(member) is a member, but this node (\(id)) has not learned its addresses and key "
                + "yet (it is still applying the cluster's state); retry"), false)
        }
        metrics.identityRefusals.add(1, ordering: .relaxed)
        let known = current.map { "at \($0)" } ?? "(its addresses are not known here)"
        let message = "node \(member) is already a member \(known); this \(what) names it at \(claimed). "
            + "Moving a member to new addresses needs proof that the request comes from it: its node key (discod sends it "
            + "from its data directory) or -auth credentials with the join permission"
        logger.warning("refused a \(what) naming member \(member) at \(claimed): \(current.map { "it is at \($0)" } ?? "no proof")")
        var extra: [JSONObject.Member] = [.init(key: "member", value: .string(member.rawValue))]
        if let current {
            extra.append(.init(key: "addr", value: .string(current.raft.description)))
            extra.append(.init(key: "api_addr", value: .string(current.api.url)))
        }
        return (APIResponse.error(409, message, extra: extra), false)
    }

    /// A notify from a node while this one is in a cluster: records the sender's addresses when
    /// it is new or proves it is the member it names (a restart on new addresses); answers 409
    /// when it names a member at other addresses without proof, and with `-auth` 403 when it
    /// would change a member's record without its node key (``checkNotifiedChange(_:at:)``).
    /// Nil to go on answering.
    func checkClusteredNotify(_ notify: NotifyRequest, request: HTTPRequest) async -> HTTPResponse? {
        let sender = notify.sender
        guard let raft = try? PeerAddress(parsing: sender.raftAddress), let api = try? PeerAddress(parsing: sender.apiAddress) else {
            return APIResponse.error(400, "\"addr\" and \"api_addr\" must be host:port addresses")
        }
        if let refusal = checkNotifiedChange(notify, at: MemberAddresses(raft: raft, api: api)) { return refusal }
        let (refusal, proven) = await checkIdentity(of: sender.id, at: MemberAddresses(raft: raft, api: api), nodeKey: notify.nodeKey,
                                                    request: request, what: "notify")
        if let refusal { return refusal }
        if proven {
            if book.learn(sender.id, raftAddress: raft, apiAddress: api, voter: sender.voter, generation: sender.generation ?? 0,
                          source: .proven) {
                logger.info("member \(sender.id) proved it moved to \(raft) (API \(api.url)); the leader records the change")
            }
        } else {
            learn(sender, source: .notify)
        }
        return nil
    }

    /// With `-auth`, a notify naming an existing member that would change its record (its
    /// addresses, or the roles the leader then commits) must carry that member's node key, as
    /// every notify discod sends from a data directory does. `-auth` credentials do not prove
    /// which node speaks: every node notifies as the same `-join-as` user, and any holder of the
    /// `join` permission could otherwise move a member or rewrite its roles. Nil to go on (no
    /// `-auth`, a new node, no change, or the key proves it); else the 403 naming what is missing.
    func checkNotifiedChange(_ notify: NotifyRequest, at claimed: MemberAddresses) -> HTTPResponse? {
        let member = notify.sender.id
        guard !authorization.isOpen, member != id, isKnownMember(member) else { return nil }
        let recordedHash = recordedKeyHash(of: member)
        if let key = notify.nodeKey, NodeKey.proves(key, hash: recordedHash) { return nil }
        var changes: [String] = []
        if let current = currentAddresses(of: member), current != claimed { changes.append("addresses \(claimed) instead of \(current)") }
        let roles = RoleNames.normalized(notify.sender.roles)
        if let recorded = store.member(member)?.roles ?? book.roles(of: member), RoleNames.normalized(recorded) != roles {
            changes.append("roles \(roles) instead of \(RoleNames.normalized(recorded))")
        }
        guard !changes.isEmpty else { return nil }
        metrics.identityRefusals.add(1, ordering: .relaxed)
        let key = recordedHash.isEmpty
            ? "no node key is recorded for it yet (it registers one when it joins)"
            : notify.nodeKey == nil ? "the notify carries no node_key" : "its node_key is not that member's"
        logger.warning("refused a notify naming member \(member) that would change \(changes.joined(separator: " and ")): \(key)")
        return APIResponse.error(403, "node \(member) is already a member: a notify that changes its record (\(changes.joined(separator: "; "))) "
            + "must carry its node key (\"node_key\", which discod sends from its data directory), and \(key); -auth credentials "
            + "with the join permission do not prove which node sent it",
            extra: [.init(key: "member", value: .string(member.rawValue)), .init(key: "missing", value: .string("node_key"))])
    }
}
