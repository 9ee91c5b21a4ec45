import DiscoCore
import DiscoLifecycle
import NodeRuntime
import Synchronization

// MARK: - HostRole

/// The `host` role: it generates events. When a member joins, leaves or changes address it
/// appends an event for the roles in ``targets`` (by default `dns`):
///
/// ```json
/// {"type":"member-joined","roles":["dns"],"member":{"id":"n4","addr":"10.0.0.4:4002","api_addr":"10.0.0.4:4001","roles":["host"]},"raft_index":57}
/// ```
///
/// Types: `member-joined`, `member-left`, `member-address-changed` (with `"previous"`).
/// What was reported is kept per member in the replicated key-value state (``ReportedMember``),
/// and the role compares the member records with it: when it starts (so the members that formed
/// the cluster, and changes made while no host node ran, are reported) and on every change.
/// Every host node appends under the same idempotency key (the member's report revision), then
/// records the report with a compare-and-set, so the log holds each step once. When the key
/// was used first by another report (a host node that stopped before recording it), the event
/// the log holds is what gets recorded, and the role decides again against it.
public final class HostRole: Role {
    public let name = "host"
    /// The roles the events are for.
    public let targets: [String]
    private let appended = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)
    private let compared = Atomic<Bool>(false)

    /// A host role whose events are for `targets` (default `["dns"]`).
    public init(targets: [String] = ["dns"]) {
        self.targets = RoleNames.normalized(targets)
    }

    public func run(_ context: RoleContext) async throws {
        // Subscribe before reading the records: a change applied in between is in both, and
        // reporting is idempotent.
        let changes = context.memberRecordChanges()
        await context.waitUntilCaughtUp()
        _ = try await cancelOnGracefulShutdown { [self] in
            await reportAll(context)
            for await change in changes {
                switch change {
                case .joined(let member, let index), .updated(let member, _, let index):
                    await report(member.id, current: member, asOf: index, context: context)
                case .left(let member, let index):
                    await report(member.id, current: nil, asOf: index, context: context)
                case .restored:
                    await reportAll(context)
                }
            }
        }
    }

    /// Reports every member whose record differs from its last report, and every reported
    /// member that is gone.
    private func reportAll(_ context: RoleContext) async {
        let (members, index) = context.memberRecords
        let reported = context.node.keyValues(namespace: ReportedMember.namespace).entries.compactMap { NodeID($0.key.name) }
        let current = Dictionary(members.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for id in Set(current.keys).union(reported).sorted() where !Task.isCancelled {
            await report(id, current: current[id], asOf: index, context: context)
        }
        compared.store(true, ordering: .releasing)
        context.logger.info("members as of raft index \(index) reported to roles \(targets.joined(separator: ",")); reporting their changes")
    }

    /// Makes the report the member's record as of `index` calls for, if any: appends the event,
    /// then records the report unless another host node recorded one meanwhile (then decides
    /// again from that one). Retries while no leader takes the writes, until cancelled.
    private func report(_ id: NodeID, current: ClusterMember?, asOf index: UInt64, context: RoleContext) async {
        let key = ReportedMember.key(id)
        var delay = Duration.milliseconds(200)
        var attempt = 0
        while !Task.isCancelled {
            let entry = context.node.keyValue(key)
            let reported = entry.flatMap { ReportedMember(decoding: $0.value) }
            guard let report = MemberReport.decide(current: current, asOf: index, reported: reported) else { return }
            let revision = entry?.revision ?? 0
            let idempotencyKey = MemberReport.idempotencyKey(member: id, after: revision)
            do {
                let event = report.event(targets: targets)
                let seq = try await context.node.appendEvent(event, idempotencyKey: idempotencyKey)
                // The key may have been used already (by a host node that stopped before recording
                // its report, or one racing this one) for another report: the log then holds that
                // one, so record what it says, then decide again against it.
                let logged = await loggedReport(seq, of: id, context: context)
                let ours = logged.map { $0.encoded == report.reported.encoded } ?? true
                let recorded = ours ? report.reported : logged ?? report.reported
                let outcome = try await context.node.transact(KVTransaction(conditions: [KVCondition(key, revision: revision)],
                                                                            operations: [.put(key, recorded.encoded)]))
                switch outcome {
                case .committed where !ours:
                    context.logger.info("event \(seq) already reported \(id) as of raft index \(recorded.raftIndex); deciding again")
                    continue
                case .committed:
                    appended.add(1, ordering: .relaxed)
                    context.logger.info("appended \(report.kind.rawValue) of \(id) as event \(seq)")
                    return
                case .refused(let reason):
                    // The key-value state is full: the event stands, its record waits for the next start.
                    failed.add(1, ordering: .relaxed)
                    context.logger.warning("appended \(report.kind.rawValue) of \(id) as event \(seq) but could not record it: \(reason)")
                    return
                case .conflict:
                    continue  // another host node recorded a report first: decide again against it
                }
            } catch {
                attempt += 1
                if error.code == .invalid {
                    failed.add(1, ordering: .relaxed)
                    context.logger.warning("could not report \(report.kind.rawValue) of \(id): \(error)")
                    return
                }
                // No leader takes writes (a lost quorum): keep trying, or the change would stay
                // unreported until a member changes again or a host node restarts.
                if attempt == 8 {
                    context.logger.warning("still cannot report \(report.kind.rawValue) of \(id) (\(error)); retrying every 5s")
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    /// What the event at `seq` reports about member `id`, once this node has applied it (nil
    /// when it was trimmed first, is not such a report, or the task is cancelled).
    private func loggedReport(_ seq: UInt64, of id: NodeID, context: RoleContext) async -> ReportedMember? {
        guard seq > 0 else { return nil }
        for await event in context.events(after: seq - 1) {
            guard event.seq == seq, let reported = ReportedMember(event: event.data), reported.member.id == id else { return nil }
            return reported
        }
        return nil
    }

    public func metricLines() async -> [String] {
        [
            "# HELP disco_host_role_events_appended_total Member change events this node reported (appended and recorded first).",
            "# TYPE disco_host_role_events_appended_total counter",
            "disco_host_role_events_appended_total \(appended.load(ordering: .relaxed))",
            "# HELP disco_host_role_append_failures_total Member change events this node gave up appending.",
            "# TYPE disco_host_role_append_failures_total counter",
            "disco_host_role_append_failures_total \(failed.load(ordering: .relaxed))",
        ]
    }

    public func status() async -> JSONValue? {
        [
            "targets": .array(targets.map(JSONValue.string)),
            "events_appended": .number(JSONNumber(appended.load(ordering: .relaxed))),
            "append_failures": .number(JSONNumber(failed.load(ordering: .relaxed))),
            "members_compared": .bool(compared.load(ordering: .acquiring)),
        ]
    }
}
