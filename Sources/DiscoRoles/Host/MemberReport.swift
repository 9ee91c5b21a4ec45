import DiscoCore
import NodeRuntime

// MARK: - What the host role reported

/// What the host roles last reported about one member, kept in the replicated key-value state
/// (namespace ``namespace``, one key per member ID) so that every host node, restarted or not,
/// knows what the event log already says:
///
/// ```json
/// {"member":{"id":"n4","addr":"10.0.0.4:4002","api_addr":"10.0.0.4:4001","roles":["host"]},"left":false,"raft_index":57}
/// ```
///
/// Before a member's first report the entry is created as ``pending``, so every report is keyed
/// by the revision of an entry, a Raft index, and no idempotency key is used twice: not while
/// the entry lives (its revision only grows), nor after the entry of a member that left is
/// deleted (``ReportRetention``) and the member comes back (its new entry has a new revision).
struct ReportedMember: Hashable, Sendable {
    /// The key-value namespace of the reports.
    static let namespace = "host-role.reported"
    /// The value of an entry created for a member's first report, before it is recorded.
    static let pending: [UInt8] = Array(#"{"pending":true}"#.utf8)

    /// The member as reported (for a member that left: as it was).
    var member: ClusterMember
    /// Whether the last report was its leaving.
    var left: Bool
    /// The Raft index of the member records the report describes.
    var raftIndex: UInt64

    /// The key of member `id`'s report.
    static func key(_ id: NodeID) -> KVKey { KVKey(namespace, id.rawValue) }

    /// The stored form.
    var encoded: [UInt8] {
        let object: JSONValue = ["member": MemberReport.json(member), "left": .bool(left), "raft_index": .number(JSONNumber(raftIndex))]
        return object.encodedBytes()
    }

    /// The report stored as `bytes`, or nil when they are not one (such an entry is reported over).
    init?(decoding bytes: [UInt8]) {
        guard let object = try? JSONValue.parse(bytes), let member = object["member"],
              let id = member["id"]?.stringValue.flatMap(NodeID.init), let addr = member["addr"]?.stringValue,
              let api = member["api_addr"]?.stringValue, let left = object["left"]?.boolValue,
              let index = object["raft_index"]?.numberValue?.uint64Value else { return nil }
        let roles = member["roles"]?.arrayValue?.compactMap(\.stringValue) ?? []
        self.init(member: ClusterMember(id: id, raftAddress: addr, apiAddress: api, voter: true, roles: roles), left: left, raftIndex: index)
    }

    /// The report a host role's event (``MemberReport/event(targets:)``) makes, or nil when
    /// `bytes` are not such an event.
    init?(event bytes: [UInt8]) {
        guard let object = try? JSONValue.parse(bytes), let type = object["type"]?.stringValue.flatMap(MemberReport.Kind.init),
              let member = object["member"], let index = object["raft_index"]?.numberValue?.uint64Value else { return nil }
        let stored: JSONValue = ["member": member, "left": .bool(type == .left), "raft_index": .number(JSONNumber(index))]
        self.init(decoding: stored.encodedBytes())
    }

    init(member: ClusterMember, left: Bool, raftIndex: UInt64) {
        self.member = member
        self.left = left
        self.raftIndex = raftIndex
    }
}

// MARK: - The report to make

/// One event the host role appends: a member joined, left, changed address or changed roles,
/// as decided by comparing the member's record (as of a Raft index) with what was last reported.
struct MemberReport: Hashable, Sendable {
    enum Kind: String, Sendable {
        case joined = "member-joined"
        case left = "member-left"
        case addressChanged = "member-address-changed"
        case rolesChanged = "member-roles-changed"
    }

    var kind: Kind
    /// The member now (for `left`: as it was).
    var member: ClusterMember
    /// For `addressChanged` and `rolesChanged`: the member as last reported.
    var previous: ClusterMember?
    /// The Raft index of the records the report describes.
    var raftIndex: UInt64

    /// The report for member records as of `index` in which the member is `current` (nil: not a
    /// member), given what was last reported; nil when there is nothing new to say, or when the
    /// last report already describes a later index (a late view must not undo a newer report).
    static func decide(current: ClusterMember?, asOf index: UInt64, reported: ReportedMember?) -> MemberReport? {
        if let reported, reported.raftIndex >= index { return nil }
        let known = reported.flatMap { $0.left ? nil : $0.member }
        switch (current, known) {
        case (nil, nil):
            return nil
        case (let current?, nil):
            return MemberReport(kind: .joined, member: current, previous: nil, raftIndex: index)
        case (nil, let known?):
            return MemberReport(kind: .left, member: known, previous: nil, raftIndex: index)
        case (let current?, let known?):
            // An address change carries the roles as they are now (and were, in "previous").
            if current.raftAddress != known.raftAddress || current.apiAddress != known.apiAddress {
                return MemberReport(kind: .addressChanged, member: current, previous: known, raftIndex: index)
            }
            // Restarted with other roles: consumers hold its roles from the last report.
            guard RoleNames.normalized(current.roles) != RoleNames.normalized(known.roles) else { return nil }
            return MemberReport(kind: .rolesChanged, member: current, previous: known, raftIndex: index)
        }
    }

    /// The event, for the roles in `targets`.
    func event(targets: [String]) -> JSONValue {
        var object = JSONObject()
        object.append(key: "type", value: .string(kind.rawValue))
        object.append(key: "roles", value: .array(RoleNames.normalized(targets).map(JSONValue.string)))
        object.append(key: "member", value: Self.json(member))
        if let previous { object.append(key: "previous", value: Self.json(previous)) }
        object.append(key: "raft_index", value: .number(JSONNumber(raftIndex)))
        return .object(object)
    }

    /// The idempotency key of the report that follows the member's report entry at
    /// `reportRevision` (0: no entry, when the key-value state is too full to create it
    /// ``ReportedMember/pending``, and for every first report before entries were created so).
    /// Every host node deciding on the same entry uses the same key, whatever it decided, so the
    /// log gets one event per step of the member's history.
    /// An ID that is not short visible ASCII (keys are at most 128 such characters) is named by
    /// its 64-bit FNV-1a hash instead.
    static func idempotencyKey(member id: NodeID, after reportRevision: UInt64) -> String {
        let bytes = Array(id.rawValue.utf8)
        let plain = bytes.count <= 80 && bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F }
        let name = plain ? id.rawValue : "h" + String(fnv1a(bytes), radix: 16)
        return "host-role-\(name)-r\(reportRevision)"
    }

    /// FNV-1a, 64 bits: a short stable name for a long ID (not a security boundary).
    private static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    /// What is stored once the event is appended.
    var reported: ReportedMember {
        ReportedMember(member: member, left: kind == .left, raftIndex: raftIndex)
    }

    static func json(_ member: ClusterMember) -> JSONValue {
        [
            "id": .string(member.id.rawValue), "addr": .string(member.raftAddress), "api_addr": .string(member.apiAddress),
            "roles": .array(member.roles.map(JSONValue.string)),
        ]
    }
}
