import DiscoCore
import Synchronization
import DiscoNet

// MARK: - Prometheus metrics

extension Node {
    /// `GET /metrics` in the Prometheus text format (version 0.0.4).
    func prometheusMetrics() async -> HTTPResponse {
        let raft = consensus.status
        let gossip = await membership.members()
        var text = PrometheusText()
        text.gauge("disco_raft_term", "Current Raft term.", raft.term)
        text.gauge("disco_raft_is_leader", "1 when this node is the Raft leader.", raft.isLeader ? 1 : 0)
        text.counter("disco_raft_leader_changes_total", "Leader changes observed by this node.",
                     metrics.leaderChanges.load(ordering: .relaxed))
        text.gauge("disco_raft_commit_index", "Highest log index known committed.", raft.commitIndex)
        text.gauge("disco_raft_applied_index", "Highest log index applied to the state machine.", raft.appliedIndex)
        text.gauge("disco_raft_voters", "Voters in the Raft configuration.", raft.voters.count)
        text.gauge("disco_raft_learners", "Non-voters in the Raft configuration.", raft.learners.count)
        var byState = ["alive": 1, "suspect": 0, "dead": 0, "left": 0]
        for member in gossip where member.id != id { byState[member.state, default: 0] += 1 }
        text.family("disco_members", "Members by SWIM state (this node counts as alive).", type: "gauge",
                    samples: byState.sorted { $0.key < $1.key }.map { ("state=\"\($0.key)\"", String($0.value)) })
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
        text.family("disco_http_requests_total", "HTTP API requests answered, by status code.", type: "counter",
                    samples: metrics.requestsByStatus.sorted { $0.key < $1.key }.map { ("code=\"\($0.key)\"", String($0.value)) })
        appendTLSMetrics(to: &text)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
        return HTTPResponse(status: 200, headers: headers, bytes: Array(text.output.utf8))
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

    mutating func family(_ name: String, _ help: String, type: String, samples: [(labels: String, value: String)]) {
        output += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for sample in samples {
            output += sample.labels.isEmpty ? "\(name) \(sample.value)\n" : "\(name){\(sample.labels)} \(sample.value)\n"
        }
    }
}
