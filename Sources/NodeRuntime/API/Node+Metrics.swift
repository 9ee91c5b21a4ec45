import DiscoCore
import DiscoSystem
import Synchronization
import DiscoNet
import Foundation

// MARK: - Prometheus metrics

extension Node {
    /// `GET /metrics` in the Prometheus text format (version 0.0.4). It takes no query (a
    /// scraper sends none, and there is no other format or filter): one is a 400 naming it.
    func prometheusMetrics(_ request: HTTPRequest) async -> HTTPResponse {
        if let error = APIQuery.refusal(request.query, of: "GET /metrics",
                                    usage: "it answers every metric in the Prometheus text format 0.0.4") { return error.response }
        let raft = consensus.status
        let gossip = await membership.members()
        var text = PrometheusText()
        text.gauge("disco_raft_term", "Current Raft term.", raft.term)
        text.gauge("disco_raft_is_leader", "1 when this node is the Raft leader.", raft.isLeader ? 1 : 0)
        text.counter("disco_raft_leader_changes_total",
                     "Times this node saw a new leader: one known after none, or another node taking over.",
                     metrics.leaderChanges)
        text.gauge("disco_raft_commit_index", "Highest log index known committed.", raft.commitIndex)
        text.gauge("disco_raft_applied_index", "Highest log index applied to the state machine.", raft.appliedIndex)
        text.gauge("disco_raft_voters", "Voters in the Raft configuration.", raft.voters.count)
        text.gauge("disco_raft_learners", "Non-voters in the Raft configuration.", raft.learners.count)
        let now = ContinuousClock.now
        let watches = learnerWatches.sorted { $0.key < $1.key }
        text.gauge("disco_raft_learners_behind", "On the leader: learners not caught up with the log (not promotable).",
                   watches.filter { !$0.value.caughtUp }.count)
        text.family("disco_raft_learner_behind_seconds", "On the leader: how long each learner has not been caught up.",
                    type: "gauge", samples: watches.map { learner, watch in
                        let seconds = watch.behind(at: now).map { Double($0.components.seconds) } ?? 0
                        return ("id=\"\(PrometheusText.escapeLabel(learner.rawValue))\"", String(Int(seconds)))
                    })
        if let internode = consensus.internodeCounters {
            text.counter("disco_raft_messages_sent_total", "Raft messages written to peers' connections.", internode.messagesSent)
            text.counter("disco_raft_messages_received_total", "Raft messages read from peers.", internode.messagesReceived)
            text.counter("disco_raft_messages_dropped_total", "Raft messages dropped: a peer's queue was full, or its connection failed.",
                         internode.messagesDropped)
            text.counter("disco_raft_connections_refused_total",
                         "Inbound internode connections closed at a frame that could not be read, or was refused "
                         + "(plain while sealing is required, sealed with another key, or from another cluster).", internode.connectionsRefused)
            text.counter("disco_raft_cluster_refused_total",
                         "Inbound internode connections refused because their sender names another cluster (-cluster-name).",
                         internode.clusterRefused)
            text.counter("disco_raft_unlabelled_accepted_total",
                         "Inbound Raft connections whose sender names no cluster (a node of an older version), accepted.",
                         internode.unlabelledAccepted)
        }
        text.counter("disco_raft_learners_promoted_total", "Learners this node promoted to voter while it led.",
                     metrics.learnersPromoted.load(ordering: .relaxed))
        text.counter("disco_raft_learners_reaped_total", "Learners this node removed after -reap-learner-timeout while it led.",
                     metrics.learnersReaped.load(ordering: .relaxed))
        text.counter("disco_identity_refusals_total", "Joins and notifies refused (409) for naming a member at other addresses without proof.",
                     metrics.identityRefusals.load(ordering: .relaxed))
        text.gauge("disco_node_removed", "1 once this node knows it was removed from the cluster.", removal == nil ? 0 : 1)
        var byState: [MembershipState: Int] = [.alive: 1, .suspect: 0, .dead: 0, .left: 0]
        for member in gossip where member.id != id { byState[member.state, default: 0] += 1 }
        text.family("disco_members", "Members by SWIM state (this node counts as alive).", type: "gauge",
                    samples: byState.sorted { $0.key.rawValue < $1.key.rawValue }.map { ("state=\"\($0.key)\"", String($0.value)) })
        if let gossip = await membership.gossipStatus() { text.gossip(gossip) }
        text.counter("disco_bootstrap_rounds_total", "Bootstrap rounds run by this node.",
                     bootstrapRounds)
        text.counter("disco_events_appended_total", "Events appended through this node while it led.",
                     metrics.eventsAppended.load(ordering: .relaxed))
        text.counter("disco_joins_accepted_total", "Join requests accepted by this node as leader.",
                     metrics.joinsAccepted.load(ordering: .relaxed))
        text.gauge("disco_event_log_last_seq", "Sequence number of the newest event applied here.", store.lastSeq)
        text.gauge("disco_event_log_first_seq", "Sequence number of the oldest event retained here.", store.firstSeq)
        let retained = store.retainedEvents
        text.gauge("disco_event_log_retained", "Events retained here (see -events-retain).", retained.count)
        text.gauge("disco_event_log_retained_bytes", "Bytes of event data retained here (see -events-retain-bytes).", retained.bytes)
        text.gauge("disco_event_log_idempotency_keys", "Idempotency keys in the replicated window (at most 10000, one hour).",
                   store.idempotencyKeys)
        text.family("disco_http_requests_total", "HTTP API requests answered, by status code (499: the client left before it was answered).", type: "counter",
                    samples: metrics.requestsByStatus.sorted { $0.key < $1.key }.map { ("code=\"\($0.key)\"", String($0.value)) })
        let usage = store.keyValueUsage
        text.gauge("disco_kv_keys", "Keys in the replicated key-value state of plug-ins.", usage.keys)
        text.gauge("disco_kv_bytes", "Bytes (names and values) in the replicated key-value state (limit 64 MiB).", usage.bytes)
        appendTLSMetrics(to: &text)
        text.family("disco_node_role", "Roles this node performs (-roles and its plug-ins), one sample each.", type: "gauge",
                    samples: announcedRoles.map { ("role=\"\(PrometheusText.escapeLabel($0))\"", "1") })
        // Every role a member's record names has a sample, 0 once none of them is live: a role
        // whose last member died must not vanish from the family (an alert on 0 would never fire).
        var livePerformers: [String: Int] = [:]
        for row in await memberRows() {
            let live = row.swim?.isLive ?? false
            for role in row.roles { livePerformers[role, default: 0] += live ? 1 : 0 }
        }
        for role in configuration.cluster.requires + configuration.cluster.bootstrapNeeds { livePerformers[role, default: 0] += 0 }
        text.family("disco_role_live_members", "Live members (this node included) performing each role known in the cluster.", type: "gauge",
                    samples: livePerformers.sorted { $0.key < $1.key }.map { ("role=\"\(PrometheusText.escapeLabel($0.key))\"", String($0.value)) })
        text.gauge("disco_role_requirements_unmet", "Roles of -requires no live member performs (0: ready as far as roles go).",
                   configuration.cluster.requires.filter { (livePerformers[$0] ?? 0) == 0 }.count)
        text.gauge("disco_bootstrap_needs_waiting", "1 while this node waits for -bootstrap-needs (its roles have not started).",
                   isWaitingForBootstrapNeeds ? 1 : 0)
        for line in await roleMetricLines() { text.line(line) }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        // Prometheus's standard process metrics: resident memory, CPU seconds, descriptors, start time.
        return HTTPResponse(status: 200, headers: headers, bytes: Array((text.output + ProcessStatistics.current().prometheusText).utf8))
    }
}

extension Node {
    /// Handshakes by outcome, certificate expiry and reloads for each TLS context (none without TLS).
    func appendTLSMetrics(to text: inout PrometheusText) {
        let stores = tls.labelledStores
        guard !stores.isEmpty else { return }
        var handshakes: [(labels: String, value: String)] = []
        var expiry: [(labels: String, value: String)] = []
        var reloads: [(labels: String, value: String)] = []
        for (label, store) in stores {
            let context = store.current
            let resumed = context.sessionsResumed
            handshakes.append(("tls=\"\(label)\",result=\"full\"", String(context.handshakesCompleted - resumed)))
            handshakes.append(("tls=\"\(label)\",result=\"resumed\"", String(resumed)))
            handshakes.append(("tls=\"\(label)\",result=\"failed\"", String(context.handshakesFailed)))
            if let seconds = context.certificateExpiry { expiry.append(("tls=\"\(label)\"", String(seconds))) }
            let counts = store.reloads
            reloads.append(("tls=\"\(label)\",result=\"ok\"", String(counts.succeeded)))
            reloads.append(("tls=\"\(label)\",result=\"failed\"", String(counts.failed)))
        }
        text.family("disco_tls_handshakes_total", "TLS handshakes by outcome: full, resumed (no certificate exchange) or failed.",
                    type: "counter", samples: handshakes)
        text.family("disco_tls_certificate_expiry_timestamp_seconds", "When the certificate in use expires (Unix time).",
                    type: "gauge", samples: expiry)
        text.family("disco_tls_reloads_total", "Certificate reloads (SIGHUP or changed files): ok, or failed and the old one kept.",
                    type: "counter", samples: reloads)
    }
}

/// Builds the Prometheus text exposition format.
struct PrometheusText {
    private(set) var output = ""

    mutating func gauge(_ name: String, _ help: String, _ value: some BinaryInteger) {
        family(name, help, type: "gauge", samples: [("", String(value))])
    }

    mutating func counter(_ name: String, _ help: String, _ value: some BinaryInteger) {
        family(name, help, type: "counter", samples: [("", String(value))])
    }

    /// The gossip traffic and encryption families.
    mutating func gossip(_ status: GossipStatus) {
        counter("disco_swim_datagrams_received_total", "SWIM datagrams received and used (after opening).", status.datagramsReceived)
        counter("disco_swim_datagrams_sent_total", "SWIM datagrams sent.", status.datagramsSent)
        family("disco_swim_datagrams_dropped_total",
               "Datagrams on the SWIM port dropped, by reason: not_swim (truncated, garbage, or sealed while this node has no gossip key), "
               + "rate_limited (unread: their sender went beyond its rate, a flood).",
               type: "counter", samples: [("reason=\"not_swim\"", String(status.datagramsDropped)),
                                          ("reason=\"rate_limited\"", String(status.datagramsRateLimited))])
        counter("disco_swim_node_id_conflicts_total",
                "Reports that another live process uses this node's ID at another address (duplicate -node-id).",
                status.nodeIDConflicts)
        gauge("disco_gossip_encrypted", "1 when gossip is sealed with AES-256-GCM (-gossip-key or -gossip-keyring).",
              status.encrypted ? 1 : 0)
        gauge("disco_gossip_keys", "Keys in the gossip keyring (the primary and accepted ones).", status.keys)
        counter("disco_gossip_decrypt_failures_total",
                "Gossip messages dropped because no key opened them: another key or label, or altered bytes.", status.decryptFailures)
        counter("disco_gossip_plaintext_dropped_total", "Plaintext gossip messages refused by this encrypted node.",
                status.plaintextDropped)
        counter("disco_gossip_plaintext_accepted_total", "Plaintext gossip messages accepted (-gossip-verify-incoming=false).",
                status.plaintextAccepted)
        counter("disco_gossip_opened_with_accepted_key_total",
                "Gossip messages opened with an accepted key, not the primary: a rotation is under way.", status.openedWithAcceptedKey)
        counter("disco_gossip_push_pulls_refused_total", "Push-pull exchanges another node refused because it could not use our gossip.",
                status.pushPullsRefused)
        counter("disco_gossip_cluster_refused_total",
                "Plaintext gossip messages dropped because they are labelled with another cluster's name (-cluster-name).",
                status.clusterRefusals)
        counter("disco_gossip_unlabelled_accepted_total",
                "Plaintext gossip messages accepted without a cluster label: nodes of an older version (rolling upgrade).",
                status.unlabelledAccepted)
        counter("disco_gossip_keyring_reloads_total", "Gossip keyring file reloads that installed new keys.", status.keyringReloads)
        counter("disco_gossip_keyring_reload_failures_total", "Gossip keyring file reloads refused (unreadable or invalid file).",
                status.keyringReloadFailures)
    }

    /// A label value with `\`, `"` and newlines escaped as the text format requires.
    static func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    /// A line a role wrote (ends with a newline here).
    mutating func line(_ line: String) {
        output += line.hasSuffix("\n") ? line : line + "\n"
    }

    mutating func family(_ name: String, _ help: String, type: String, samples: [(labels: String, value: String)]) {
        output += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for sample in samples {
            output += sample.labels.isEmpty ? "\(name) \(sample.value)\n" : "\(name){\(sample.labels)} \(sample.value)\n"
        }
    }
}
