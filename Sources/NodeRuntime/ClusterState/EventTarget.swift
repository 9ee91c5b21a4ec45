import DiscoCore

// MARK: - EventTarget

/// What an event says about itself: its `type` and the `roles` it is for, read from the posted
/// object's top-level `"type"` (a string) and `"roles"` (an array of role names).
///
/// Both are optional and the event is stored exactly as posted, so any JSON value is still an
/// event: `{"type":"member-joined","roles":["dns"],"member":"n4"}` is of type `member-joined`
/// for the `dns` role; `[1,2]` or `{"n":1}` has no type and no target roles.
public struct EventTarget: Hashable, Sendable {
    /// Longest `type`, in bytes.
    public static let maxTypeBytes = 128

    /// The event's `type`, if it has one.
    public var type: String?
    /// The roles the event is for (sorted, each once); empty: none in particular.
    public var roles: [String]

    public init(type: String? = nil, roles: [String] = []) {
        self.type = type
        self.roles = RoleNames.normalized(roles)
    }

    /// Whether `role` consumes the event (it names the role among its `roles`).
    public func isFor(_ role: String) -> Bool { roles.contains(role) }

    // MARK: Reading

    /// The target of a parsed event; throws naming the field when `type` or `roles` is present
    /// but not what it must be.
    public init(event value: JSONValue) throws(EventTargetError) {
        guard let object = value.objectValue else {
            self.init()
            return
        }
        var type: String?
        if let field = object["type"] {
            guard let text = field.stringValue, !text.isEmpty, text.utf8.count <= Self.maxTypeBytes,
                  !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw EventTargetError("\"type\" must be a string of 1 to \(Self.maxTypeBytes) bytes without control characters, "
                    + "e.g. \"member-joined\"; found \(field.encoded())")
            }
            type = text
        }
        var roles: [String] = []
        if let field = object["roles"] {
            guard let items = field.arrayValue else {
                throw EventTargetError("\"roles\" must be an array of role names, e.g. [\"dns\"]; found \(field.encoded())")
            }
            for item in items {
                guard let name = item.stringValue else {
                    throw EventTargetError("\"roles\" must hold role names (strings), e.g. [\"dns\"]; found \(item.encoded())")
                }
                if let problem = RoleNames.problem(with: name) { throw EventTargetError("\"roles\": \(problem)") }
            }
            if let problem = RoleNames.problem(with: items.compactMap(\.stringValue)) { throw EventTargetError("\"roles\": \(problem)") }
            roles = items.compactMap(\.stringValue)
        }
        self.init(type: type, roles: roles)
    }

    /// The target of a stored event's bytes. Events that cannot name roles (no `"roles"` in
    /// them) are answered without parsing.
    public init(eventData data: [UInt8]) {
        guard Self.mayHaveFields(data), let value = try? JSONValue.parse(data), let target = try? EventTarget(event: value) else {
            self.init()
            return
        }
        self = target
    }

    /// Whether the bytes are an object that may carry `"type"` or `"roles"`: it names one of them
    /// literally, or has a `\u` escape, which can spell either key (`"r\u006fles"`).
    private static func mayHaveFields(_ data: [UInt8]) -> Bool {
        guard let first = data.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }),
              first == UInt8(ascii: "{") else { return false }
        return contains(data, Array(#""roles""#.utf8)) || contains(data, Array(#""type""#.utf8)) || contains(data, Array(#"\u"#.utf8))
    }

    private static func contains(_ data: [UInt8], _ needle: [UInt8]) -> Bool {
        guard data.count >= needle.count else { return false }
        var index = 0
        while index <= data.count - needle.count {
            if data[index] == needle[0], data[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}

/// Why an event's `type` or `roles` cannot be used.
public struct EventTargetError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

extension ClusterEvent {
    /// The event's `type` and target `roles` (see ``EventTarget``).
    public var target: EventTarget { EventTarget(eventData: data) }
}
