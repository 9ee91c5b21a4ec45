import DiscoCore
import DiscoLifecycle
import NodeRuntime
import Synchronization

// MARK: - HostRole

/// The `host` role: it generates events. When a member joins, leaves, changes address or
/// changes roles it appends an event for the roles in ``targets`` (by default `dns`):
///
/// ```json
/// {"type":"member-joined","roles":["dns"],"member":{"id":"n4","addr":"10.0.0.4:4002","api_addr":"10.0.0.4:4001","roles":["host"]},"raft_index":57}
/// ```
///
/// Types: `member-joined`, `member-left`, `member-address-changed` and `member-roles-changed`
/// (both with `"previous"`, the member as last reported).
/// What was reported is kept per member in the replicated key-value state (``ReportedMember``),
/// and the role compares the member records with it: when it starts (so the members that formed
/// the cluster, and changes made while no host node ran, are reported) and on every change.
/// Every host node appends under the same idempotency key (the revision of the member's report
/// entry; a member without one first gets a ``ReportedMember/pending`` entry, so the key is new
/// for each time the member comes), then records the report with a compare-and-set, so the log
/// holds each step once. When the key was used first by another report (a host node that
/// stopped before recording it), the event the log holds is what gets recorded, and the role
/// decides again against it. The entry of a member that left is deleted once that is safe
/// (``ReportRetention``): after ``leftRetention``.
public final class HostRole: Role {
    public let name = "host"
    /// The roles the events are for.
    public let targets: [String]
    /// How long the report entry of a member that left is kept after its leave is recorded.
    public let leftRetention: Duration
    /// The clock ``leftRetention`` is measured by.
    let now: @Sendable () -> ContinuousClock.Instant
    /// How often the report entries are checked for ones to delete.
    let sweepInterval: Duration
    private let appended = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)
    private let compared = Atomic<Bool>(false)
    let deleted = Atomic<Int>(0)
    let waiting = Atomic<Int>(0)

    /// A host role whose events are for `targets` (default `["dns"]`), keeping the report entry
    /// of a member that left for `leftRetention` (default: one hour, as long as the idempotency
    /// window remembers a key).
    public convenience init(targets: [String] = ["dns"], leftRetention: Duration = .seconds(3600)) {
        self.init(targets: targets, leftRetention: leftRetention, sweepInterval: .seconds(60), now: { ContinuousClock.now })
    }

    /// The role with the clock ``leftRetention`` is measured by, and how often entries are checked.
    init(targets: [String], leftRetention: Duration, sweepInterval: Duration, now: @escaping @Sendable () -> ContinuousClock.Instant) {
        self.targets = RoleNames.normalized(targets)
        self.leftRetention = max(leftRetention, .zero)
        self.sweepInterval = max(sweepInterval, .milliseconds(10))
        self.now = now
    }

    public func run(_ context: RoleContext) async throws {
        // Subscribe before reading the records: a change applied in between is in both, and
        // reporting is idempotent.
        let changes = context.memberRecordChanges()
        await context.waitUntilCaughtUp()
        _ = try await cancelOnGracefulShutdown { [self] in
            await withDiscardingTaskGroup { group in
                group.addTask { await self.deleteLeftReports(context) }
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
                group.cancelAll()
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
    func report(_ id: NodeID, current: ClusterMember?, asOf index: UInt64, context: RoleContext) async {
        let key = ReportedMember.key(id)
        var delay = Duration.milliseconds(200)
        var attempt = 0
        while !Task.isCancelled {
            let entry = context.node.keyValue(key)
            let reported = entry.flatMap { ReportedMember(decoding: $0.value) }
            // Without a report to compare with (none yet, or deleted after the member left), the
            // view given may predate a leave whose entry is gone: decide against member records
            // read after the entry, so at least as new as its deletion.
            var view = (current: current, index: index)
            if reported == nil {
                let records = context.memberRecords
                view = (records.members.first { $0.id == id }, records.index)
            }
            guard let report = MemberReport.decide(current: view.current, asOf: view.index, reported: reported) else { return }
            do {
                if entry == nil {
                    // Reserve the entry: its revision, a Raft index used once, keys the report.
                    let outcome = try await context.node.transact(KVTransaction(conditions: [.absent(key)],
                                                                                operations: [.put(key, ReportedMember.pending)]))
                    // Created, or another host node created it first: decide with it. Refused (the
                    // key-value state is full): report under the key of no entry, unrecorded.
                    guard case .refused = outcome else { continue }
                }
                let revision = entry?.revision ?? 0
                let idempotencyKey = MemberReport.idempotencyKey(member: id, after: revision)
                let event = report.event(targets: targets)
                let seq = try await context.node.appendEvent(event, idempotencyKey: idempotencyKey)
                // The key may have been used already (by a host node that stopped before recording
                // its report, or one racing this one) for another report: the log then holds that
                // one, so record what it says, then decide again against it.
                let logged = await loggedReport(seq, of: id, context: context)
                let ours = logged.map { $0.encoded == report.reported.encoded } ?? true
                let recorded = ours ? report.reported : logged ?? report.reported
                var outcome = try await record(recorded, at: key, revision: revision, context: context)
                if revision != 0, case .conflict(_, _, found: 0) = outcome {
                    // Deleted since it was read (ReportRetention): the event stands, so record it.
                    outcome = try await record(recorded, at: key, revision: 0, context: context)
                }
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

    /// Puts `reported` at `key` if the key is at `revision` (0: absent).
    private func record(_ reported: ReportedMember, at key: KVKey, revision: UInt64, context: RoleContext) async throws(ReplicatedStateError)
        -> KVTransactionResult {
        try await context.node.transact(KVTransaction(conditions: [KVCondition(key, revision: revision)], operations: [.put(key, reported.encoded)]))
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
            "# HELP disco_host_role_reports_deleted_total Report entries of members that left, deleted by this node.",
            "# TYPE disco_host_role_reports_deleted_total counter",
            "disco_host_role_reports_deleted_total \(deleted.load(ordering: .relaxed))",
        ]
    }

    public func status() async -> JSONValue? {
        [
            "targets": .array(targets.map(JSONValue.string)),
            "events_appended": .number(JSONNumber(appended.load(ordering: .relaxed))),
            "append_failures": .number(JSONNumber(failed.load(ordering: .relaxed))),
            "members_compared": .bool(compared.load(ordering: .acquiring)),
            "reports_deleted": .number(JSONNumber(deleted.load(ordering: .relaxed))),
            "left_reports_kept": .number(JSONNumber(waiting.load(ordering: .relaxed))),
        ]
    }
}
