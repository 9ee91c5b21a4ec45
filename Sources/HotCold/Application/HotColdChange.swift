import DiscoCore
import LeaseCore

// MARK: - HotColdChange

/// One change of a replica's state, as the lease shell reports it to an observer (the node
/// appends it to the event log; metrics and logs come from the shell itself).
public struct HotColdChange: Hashable, Sendable {
    public var group: LeaseGroup
    public var node: NodeID
    public var state: HotColdStatus.State
    /// The token gained (hot) or given up (cold).
    public var token: UInt64
    /// Why the replica became cold (nil for hot).
    public var reason: LeaseHolder.ColdReason?
    /// Wall-clock nanoseconds since the Unix epoch.
    public var wallNanoseconds: Int64

    public init(group: LeaseGroup, node: NodeID, state: HotColdStatus.State, token: UInt64, reason: LeaseHolder.ColdReason?,
                wallNanoseconds: Int64) {
        self.group = group
        self.node = node
        self.state = state
        self.token = token
        self.reason = reason
        self.wallNanoseconds = wallNanoseconds
    }

    /// The event's type in the event log.
    public static let eventType = "hot-cold"
    /// The role the event is for (its `roles`): the hot/cold role's own name, so
    /// `GET /events?role=hot-cold` and a consumer's cursor for that role select these events.
    public static let consumerRole = "hot-cold"

    /// The change as an event body:
    /// `{"type":"hot-cold","roles":["hot-cold"],"group","node","state","token","reason","at"}`.
    public var eventJSON: JSONValue {
        var object = JSONObject()
        object.append(key: "type", value: .string(Self.eventType))
        object.append(key: "roles", value: .array([.string(Self.consumerRole)]))
        object.append(key: "group", value: .string(group.rawValue))
        object.append(key: "node", value: .string(node.rawValue))
        object.append(key: "state", value: .string(state.rawValue))
        object.append(key: "token", value: .number(JSONNumber(token)))
        object.append(key: "reason", value: reason.map { .string($0.description) } ?? .null)
        object.append(key: "at", value: .string(LogClock.rfc3339(nanoseconds: wallNanoseconds)))
        return .object(object)
    }
}
