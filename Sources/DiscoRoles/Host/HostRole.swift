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
/// Types: `member-joined`, `member-left`, `member-address-changed` (with `"previous"`). Every
/// node with the role appends each change under the same idempotency key (the change's Raft
/// index), so the log holds it once as long as one of them is running.
public final class HostRole: Role {
    public let name = "host"
    /// The roles the events are for.
    public let targets: [String]
    private let appended = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)

    /// A host role whose events are for `targets` (default `["dns"]`).
    public init(targets: [String] = ["dns"]) {
        self.targets = RoleNames.normalized(targets)
    }

    public func run(_ context: RoleContext) async throws {
        // Subscribe before catching up, then skip what the catching up replayed: those changes
        // were reported when they were new.
        let changes = context.memberRecordChanges()
        await context.waitUntilCaughtUp()
        let baseline = context.appliedIndex
        context.logger.info("reporting member changes after raft index \(baseline) to roles \(targets.joined(separator: ","))")
        _ = try await cancelOnGracefulShutdown { [self] in
            for await change in changes where change.index > baseline {
                guard let (event, key) = Self.event(for: change, targets: targets) else { continue }
                await append(event, key: key, context: context)
            }
        }
    }

    /// The event for a change and its idempotency key; nil for a change that is not reported
    /// (a restore, a record whose addresses stayed the same).
    static func event(for change: MemberRecordChange, targets: [String]) -> (JSONValue, String)? {
        let (type, member, previous): (String, ClusterMember, ClusterMember?)
        switch change {
        case .joined(let joined, _): (type, member, previous) = ("member-joined", joined, nil)
        case .left(let left, _): (type, member, previous) = ("member-left", left, nil)
        case .updated(let now, let before, _):
            guard now.raftAddress != before.raftAddress || now.apiAddress != before.apiAddress else { return nil }
            (type, member, previous) = ("member-address-changed", now, before)
        case .restored:
            return nil
        }
        var object = JSONObject()
        object.append(key: "type", value: .string(type))
        object.append(key: "roles", value: .array(RoleNames.normalized(targets).map(JSONValue.string)))
        object.append(key: "member", value: json(member))
        if let previous { object.append(key: "previous", value: json(previous)) }
        object.append(key: "raft_index", value: .number(JSONNumber(change.index)))
        return (.object(object), "host-\(type)-\(change.index)")
    }

    private static func json(_ member: ClusterMember) -> JSONValue {
        [
            "id": .string(member.id.rawValue), "addr": .string(member.raftAddress), "api_addr": .string(member.apiAddress),
            "roles": .array(member.roles.map(JSONValue.string)),
        ]
    }

    /// Appends, retrying while no leader takes it (a few times: another host node appends the
    /// same change under the same key).
    private func append(_ event: JSONValue, key: String, context: RoleContext) async {
        var delay = Duration.milliseconds(200)
        for attempt in 1...8 {
            do {
                let seq = try await context.node.appendEvent(event, idempotencyKey: key)
                appended.add(1, ordering: .relaxed)
                context.logger.info("appended \(event["type"]?.stringValue ?? "event") of \(event["member"]?["id"]?.stringValue ?? "?") as event \(seq)")
                return
            } catch {
                if error.code == .invalid || attempt == 8 || Task.isCancelled {
                    failed.add(1, ordering: .relaxed)
                    context.logger.warning("could not append \(key): \(error)")
                    return
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    public func metricLines() async -> [String] {
        [
            "# HELP disco_host_role_events_appended_total Member change events this node appended (or found appended under their key).",
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
        ]
    }
}
