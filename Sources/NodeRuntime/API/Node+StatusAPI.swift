import Bootstrap
import DiscoCore
import Synchronization
import DiscoNet

// MARK: - Status, nodes, leader, readiness

extension Node {
    /// The current leader with its addresses, if one is known.
    var leaderInfo: LeaderInfo? {
        guard let leader = consensus.status.leader else { return nil }
        return info(for: leader)
    }

    func info(for id: NodeID) -> LeaderInfo? {
        if let entry = book.entry(id) {
            return LeaderInfo(id: id, apiAddress: withAPIScheme(entry.apiAddress), raftAddress: entry.raftAddress)
        }
        guard let member = store.member(id),
              let api = try? PeerAddress(parsing: member.apiAddress), let raft = try? PeerAddress(parsing: member.raftAddress)
        else { return nil }
        return LeaderInfo(id: id, apiAddress: withAPIScheme(api), raftAddress: raft)
    }

    /// One row per cluster member: Raft's configuration joined with addresses and SWIM state.
    struct MemberRow {
        var id: NodeID
        var apiAddress: PeerAddress?
        var raftAddress: PeerAddress?
        var voter: Bool
        /// nil when gossip does not know the member (yet).
        var swim: MembershipState?
        var isLeader: Bool
        /// On the leader: how far the member's log has come.
        var replication: PeerReplication?
        /// On the leader, for a learner: how long it has been behind (nil while caught up).
        var behind: Duration?
        /// The roles in the member's record (or that it announced, before the record exists).
        var roles: [String]
        /// The member's generation in its replicated record (nil before the record exists).
        var generation: UInt64? = nil
    }

    func memberRows() async -> [MemberRow] {
        let status = consensus.status
        let gossip = Dictionary(await membership.members().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var ids = Set(status.members)
        if ids.isEmpty { ids.insert(id) }
        let watches = learnerWatches
        let now = ContinuousClock.now
        return ids.sorted().map { member in
            let entry = book.entry(member)
            let swim: MembershipState? = member == id ? .alive : gossip[member]?.state
            return MemberRow(id: member, apiAddress: entry.map { withAPIScheme($0.apiAddress) }, raftAddress: entry?.raftAddress,
                             voter: status.voters.contains(member) || (status.members.isEmpty && configuration.cluster.voter),
                             swim: swim, isLeader: status.leader == member, replication: status.peers[member],
                             behind: watches[member]?.behind(at: now),
                             // This node's roles are what it announces now: its record may
                             // still hold those of an earlier start until the leader commits them.
                             roles: member == id ? announcedRoles : store.member(member)?.roles ?? book.roles(of: member) ?? [],
                             generation: store.member(member)?.generation)
        }
    }

    /// The parameters `GET /status` takes: rqlite's `pretty` and `key=` (``StatusQuery``).
    static let statusParameters = ["pretty", "key"]

    /// `GET /status`: this node's view of itself and the cluster. A parameter it does not take,
    /// one given twice, a malformed value or a `key=` naming nothing is a 400 naming it and
    /// what would be right.
    func status(_ request: HTTPRequest) async -> HTTPResponse {
        let endpoint = "GET /status"
        let query: StatusQuery
        switch APIQuery.parse(request.query, of: endpoint, taking: Self.statusParameters).flatMap({ StatusQuery.read($0, of: endpoint) }) {
        case .success(let parsed): query = parsed
        case .failure(let error): return error.response
        }
        switch query.selecting(from: await statusBody(), of: endpoint) {
        case .success(let selected): return query.response(selected)
        case .failure(let error): return error.response
        }
    }

    private func statusBody() async -> JSONValue {
        let raft = consensus.status
        let rows = await memberRows()
        let (formation, detail, targets, lookupError, keeper) = runtime.withLock {
            ($0.formation, $0.formationDetail, $0.discoveryTargets, $0.discoveryError, $0.keeper)
        }
        let record = await keeper?.state
        let discoveryError = lookupError ?? record?.lastError
        let node: JSONValue = [
            "id": .string(id.rawValue), "api_addr": .string(apiURL), "addr": .string(raftAddress.description),
            "voter": .bool(configuration.cluster.voter), "state": .string(raft.role.rawValue), "version": .string(NodeRuntimeModule.version),
            "roles": .array(announcedRoles.map(JSONValue.string)),
            "requires": .array(RoleNames.normalized(configuration.cluster.requires).map(JSONValue.string)),
            "missing_roles": .array(await missingRequiredRoles().map(JSONValue.string)),
            "bootstrap_needs": .array(RoleNames.normalized(configuration.cluster.bootstrapNeeds).map(JSONValue.string)),
            "bootstrap_needs_waiting": .bool(!configuration.cluster.bootstrapNeeds.isEmpty && isWaitingForBootstrapNeeds),
            "data_dir": .string(directory.path), "generation": .number(JSONNumber(directory.generation)),
        ]
        let cluster: JSONValue = [
            "name": store.cluster.map(JSONValue.string) ?? .string(configuration.cluster.name),
            "epoch": store.epoch.map { .number(JSONNumber($0)) } ?? .null,
        ]
        let discovery: JSONValue = [
            "mode": .string(configuration.formation.discovery?.mode.rawValue ?? (configuration.formation.join.isEmpty ? "none" : "static")),
            "targets": .array(targets.map { .string(apiURL(for: $0)) }),
            "last_error": discoveryError.map(JSONValue.string) ?? .null,
            "leader_record_held": record.map { .bool($0.holding) } ?? .null,
        ]
        let bootstrap: JSONValue = [
            "state": .string(formation.rawValue), "detail": detail.map(JSONValue.string) ?? .null,
            "expect": .number(JSONNumber(configuration.formation.bootstrapExpect)),
            "rounds": .number(JSONNumber(bootstrapRounds)),
            "last_error": runtime.withLock({ $0.bootstrap })?.progress.lastError.map(JSONValue.string) ?? .null,
            "configuration_problem": runtime.withLock({ $0.bootstrap })?.progress.configurationProblem.map(JSONValue.string) ?? .null,
        ]
        let external = consensus.externalState
        let consensusJSON: JSONValue = [
            "engine": .string(external?.system ?? "raft"), "state_known": .bool(raft.stateKnown),
            "endpoints": external.map { .array($0.endpoints.map(JSONValue.string)) } ?? .null,
            "key": external.map { .string($0.key) } ?? .null,
            "member_recorded": external.map { .bool(directory.recordsEtcdMembership(key: $0.key)) } ?? .null,
            "membership_record": external.map { .string(directory.etcdMembership(key: $0.key).rawValue) } ?? .null,
            "failed_reads": external.map { .number(JSONNumber($0.failedReads)) } ?? .null,
            "last_error": external?.lastError.map(JSONValue.string) ?? .null,
        ]
        let retained = store.retainedEvents
        let events: JSONValue = [
            "first_seq": .number(JSONNumber(store.firstSeq)), "last_seq": .number(JSONNumber(store.lastSeq)),
            "retained": .number(JSONNumber(retained.count)), "retained_bytes": .number(JSONNumber(retained.bytes)),
            "retain": .number(JSONNumber(configuration.eventLog.retention.maxEvents)), "retain_bytes": .number(JSONNumber(configuration.eventLog.retention.maxBytes)),
            "idempotency_keys": .number(JSONNumber(store.idempotencyKeys)),
        ]
        let removal = self.removal
        let body: JSONValue = [
            "node": node, "leader": leaderInfo?.json ?? .null, "term": .number(JSONNumber(raft.term)),
            "commit_index": .number(JSONNumber(raft.commitIndex)), "applied_index": .number(JSONNumber(raft.appliedIndex)),
            "cluster": cluster, "members": .array(rows.map(\.json)), "discovery": discovery, "bootstrap": bootstrap, "consensus": consensusJSON,
            "events": events, "learners": raft.isLeader ? .array(learnerReport()) : .null,
            "removed": .bool(removal != nil), "removal": removal?.json ?? .null, "tls": tls.statusJSON,
            "roles": await roleStatus(),
        ]
        return body
    }

    /// The parameters `GET /nodes` takes: `role=` (ours) and rqlite's `nonvoters`, `ver=`,
    /// `timeout=` and `retries=`, which are checked but change nothing: every member is listed
    /// (voters and learners, with `voter`), in one shape, from what this node knows without
    /// contacting the others; and rqlite's `pretty` (``StatusQuery``).
    static let nodesParameters = ["role", "nonvoters", "ver", "timeout", "retries", "pretty"]

    /// `GET /nodes`, or `GET /nodes?role=dns` for the members with that role. A parameter it does
    /// not take, one given twice or a malformed value is a 400 naming it and what would be right.
    func nodes(_ request: HTTPRequest) async -> HTTPResponse {
        let endpoint = "GET /nodes"
        let query: [String: String]
        switch APIQuery.parse(request.query, of: endpoint, taking: Self.nodesParameters) {
        case .success(let parsed): query = parsed
        case .failure(let error): return error.response
        }
        let output: StatusQuery
        switch StatusQuery.read(query, of: endpoint) {
        case .success(let parsed): output = parsed
        case .failure(let error): return error.response
        }
        if case .failure(let error) = query.querySwitch("nonvoters", of: endpoint) { return error.response }
        if case .failure(let error) = query.queryDuration("timeout", of: endpoint) { return error.response }
        if let version = query["ver"], version != "1", version != "2" {
            return APIResponse.error(400, "\(endpoint): ver=\(version.prefix(64).debugDescription) is not a valid value; use ver=2 (or ver=1)")
        }
        if let retries = query["retries"], !(UInt8(retries).map { $0 <= 100 } ?? false) {
            return APIResponse.error(400, "\(endpoint): retries=\(retries.prefix(64).debugDescription) is not a valid value; "
                + "use a whole number from 0 to 100, such as retries=2")
        }
        var rows = await memberRows()
        if let role = query["role"] {
            if let problem = RoleNames.problem(with: role) { return APIResponse.error(400, "role=\(role.debugDescription): \(problem)") }
            rows = rows.filter { $0.roles.contains(role) }
        }
        return output.response(.array(rows.map { row in
            var object = row.json.objectValue ?? JSONObject()
            object.append(key: "leader", value: .bool(row.isLeader))
            object.append(key: "reachable", value: .bool(row.swim?.isLive ?? false))
            return .object(object)
        }))
    }

    /// `GET /leader`: the leader's `{"id","api_addr","addr"}`, 503 without one. It takes rqlite's
    /// `pretty`; another parameter, one given twice or a malformed value is a 400 naming it.
    func leader(_ request: HTTPRequest) -> HTTPResponse {
        let endpoint = "GET /leader"
        let query: StatusQuery
        switch APIQuery.parse(request.query, of: endpoint, taking: ["pretty"]).flatMap({ StatusQuery.read($0, of: endpoint) }) {
        case .success(let parsed): query = parsed
        case .failure(let error): return error.response
        }
        guard let leader = leaderInfo else { return APIResponse.error(503, "no leader is known yet") }
        return query.response(leader.json)
    }

    /// On the leader: every learner with its progress, how long it has been behind and silent.
    func learnerReport() -> [JSONValue] {
        let now = ContinuousClock.now
        return learnerWatches.sorted { $0.key < $1.key }.map { learner, watch in
            [
                "id": .string(learner.rawValue), "match_index": .number(JSONNumber(watch.matchIndex)),
                "caught_up": .bool(watch.caughtUp), "behind_seconds": watch.behind(at: now).map(Self.seconds) ?? .null,
                "silent_seconds": Self.seconds(watch.silence(at: now)),
                "wants_vote": .bool(store.member(learner)?.voter ?? false),
            ]
        }
    }

    /// A duration as seconds with one decimal.
    static func seconds(_ duration: Duration) -> JSONValue {
        let (seconds, attoseconds) = duration.components
        let tenths = ((Double(seconds) + Double(attoseconds) / 1e18) * 10).rounded()
        return JSONNumber(tenths / 10).map(JSONValue.number) ?? .null
    }

    /// 200 only with a known leader this node can reach and every role ready; `?noleader`
    /// checks liveness only: neither a leader nor the roles (a sidecar whose application has not
    /// started yet is alive, and a native sidecar's startup probe must pass before Kubernetes
    /// starts that application). A removed node answers 503 either way; so does one still waiting
    /// to read its state from etcd, saying what it waits for and the last error.
    ///
    /// `?sync` (rqlite's) also makes readiness wait, once every other check has passed, until
    /// this node has applied the log through the index the cluster had committed when the
    /// request came (``ConsensusEngine/catchUpTarget()``: under Raft the leader's commit index as
    /// its last append told this node, under etcd the log's last index read from etcd), so a
    /// member that just joined or restarted is not ready until it has caught up. `timeout=`
    /// (Go duration syntax, default ``readySyncTimeout``) bounds that wait; it answers 503
    /// naming the applied and target indexes and the timeout when the wait runs out. Without
    /// `sync`, `timeout=` has no effect; `sync` with `noleader` waits for nothing either (a
    /// liveness check). The wait holds no thread: the handler sleeps between looks.
    ///
    /// It takes `noleader`, `sync`, `timeout=` and the parameters of the roles
    /// (``Role/readinessParameters``, such as `hot`); any other parameter, one given twice, a
    /// malformed value, or a role's parameter beside `noleader` (which checks no role) is a 400
    /// naming it and what would be right.
    func readyz(_ request: HTTPRequest) async -> HTTPResponse {
        let endpoint = "GET /readyz"
        let query: [String: String]
        switch APIQuery.parse(request.query, of: endpoint, taking: ["noleader", "sync", "timeout"] + roles.flatMap(\.readinessParameters)) {
        case .success(let parsed): query = parsed
        case .failure(let error): return error.response
        }
        if let problem = roles.lazy.compactMap({ $0.readinessQueryProblem(query: request.query) }).first {
            return APIResponse.error(400, "\(endpoint): \(problem)")
        }
        let timeout: Duration?
        switch query.queryDuration("timeout", of: endpoint) {
        case .success(let value): timeout = value
        case .failure(let error): return error.response
        }
        let sync: Bool
        switch query.querySwitch("sync", of: endpoint) {
        case .success(let value): sync = value
        case .failure(let error): return error.response
        }
        let liveness: Bool
        switch query.querySwitch("noleader", of: endpoint) {
        case .success(let value): liveness = value
        case .failure(let error): return error.response
        }
        // Liveness checks no role: a role's parameter beside it would be ignored, and a probe that
        // asks whether a replica is hot would pass on a cold one.
        if liveness, let given = roles.flatMap(\.readinessParameters).first(where: { query[$0] != nil }) {
            return APIResponse.error(400, "\(endpoint): noleader checks liveness only, never a role, so \(given)= would be ignored; "
                + "drop noleader to check \(given)=, or drop \(given)= to check liveness")
        }
        if let removal {
            return APIResponse.error(503, "not ready: node \(id) was removed from the cluster (\(removal.reporter)); "
                + "start it with -join to make it a member again", extra: [.init(key: "removed", value: .bool(true))])
        }
        // Liveness: neither a leader nor the roles (a sidecar whose application is still starting is alive);
        // the leader this node knows, if any, is named all the same.
        if liveness { return APIResponse.json(["ready": true, "leader": consensus.status.leader.map { .string($0.rawValue) } ?? .null]) }
        if !consensus.status.stateKnown, let external = consensus.externalState {
            let waiting = runtime.withLock { $0.formation == .starting ? $0.formationDetail : nil }
            return APIResponse.error(503, "not ready: " + (waiting ?? "waiting for \(external.location) to read this node's state under "
                + "\(external.key) (\(Self.attempts(external)))"))
        }
        if isWaitingForBootstrapNeeds, !configuration.cluster.bootstrapNeeds.isEmpty {
            let missing = await missingBootstrapNeeds()
            return APIResponse.error(503, "not ready: starting: waiting for a live member performing "
                + "\(missing.isEmpty ? "the roles of -bootstrap-needs" : missing.joined(separator: ", ")) (-bootstrap-needs)",
                extra: [.init(key: "missing_roles", value: .array(missing.map(JSONValue.string)))])
        }
        if let role = await missingRequiredRole() {
            return APIResponse.error(503, "not ready: requires role \(role): no live member performs it",
                                     extra: [.init(key: "missing_role", value: .string(role))])
        }
        if let (role, problem) = await roleReadinessProblem(query: request.query) {
            return APIResponse.error(503, "not ready: role \(role): \(problem)", extra: [.init(key: "role", value: .string(role))])
        }
        let raft = consensus.status
        guard let leader = raft.leader else { return APIResponse.error(503, "not ready: no leader is known") }
        if leader != id {
            let state = await membership.members().first { $0.id == leader }?.state
            if let state, !state.isLive {
                return APIResponse.error(503, "not ready: leader \(leader) is \(state) according to gossip")
            }
        }
        if sync, let behind = await waitForSync(within: timeout ?? Self.readySyncTimeout) { return behind }
        return APIResponse.json(["ready": true, "leader": .string(leader.rawValue)])
    }

    /// How long `/readyz?sync` waits for this node to catch up when the request gives no
    /// `timeout=`: long enough for a member a few seconds behind, short enough that a probe
    /// gets an answer saying how far it got.
    static let readySyncTimeout: Duration = .seconds(5)

    /// Nil once this node has applied the log through ``ConsensusEngine/catchUpTarget()`` (read
    /// when called), within `timeout`; else the 503 saying how far it got.
    func waitForSync(within timeout: Duration) async -> HTTPResponse? {
        let target: UInt64
        do {
            target = try await consensus.catchUpTarget()
        } catch {
            return APIResponse.error(503, "not ready: cannot learn how far the cluster has committed (sync): \(error)")
        }
        if await waitUntilApplied(target, timeout: timeout) { return nil }
        let applied = appliedIndex
        let waited = GoDuration.format(timeout)
        return APIResponse.error(503, "not ready: applied index \(applied) did not reach the cluster's commit index \(target) "
            + "within \(waited) (sync); this node is still catching up", extra: [
                .init(key: "applied_index", value: .number(JSONNumber(applied))),
                .init(key: "target_index", value: .number(JSONNumber(target))),
                .init(key: "timeout", value: .string(waited)),
            ])
    }
}

extension Node.MemberRow {
    var json: JSONValue {
        var object = JSONObject([
            .init(key: "id", value: .string(id.rawValue)),
            .init(key: "api_addr", value: apiAddress.map { .string($0.url) } ?? .null),
            .init(key: "addr", value: raftAddress.map { .string($0.description) } ?? .null),
            .init(key: "voter", value: .bool(voter)),
            .init(key: "swim", value: .string(swim?.rawValue ?? "unknown")),
            .init(key: "roles", value: .array(roles.map(JSONValue.string))),
            .init(key: "generation", value: generation.map { .number(JSONNumber($0)) } ?? .null),
        ])
        if let replication {
            object.append(key: "match_index", value: .number(JSONNumber(replication.matchIndex)))
            if !voter {
                object.append(key: "caught_up", value: .bool(replication.caughtUp))
                object.append(key: "behind_seconds", value: behind.map(Node.seconds) ?? .null)
            }
        }
        return .object(object)
    }
}
