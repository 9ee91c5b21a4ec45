// MARK: - JSONValue

/// A JSON document as a value: the one JSON type used throughout Disco (HTTP API bodies,
/// disco-config, Consul and etcd gateway responses).
///
/// Numbers keep their literal text, so integers of any size (etcd revisions, Consul indexes)
/// round-trip exactly. Objects keep their members in document order; equality is order-sensitive.
/// Parse with ``parse(_:maxDepth:)-(String,_)``, print with ``encoded()``.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

// MARK: - Accessors

extension JSONValue {
    /// The string payload, or `nil` for any other kind of value.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The boolean payload, or `nil` for any other kind of value.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The number payload, or `nil` for any other kind of value.
    public var numberValue: JSONNumber? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The elements of an array, or `nil` for any other kind of value.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members of an object, or `nil` for any other kind of value.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// Whether this is `null`.
    public var isNull: Bool { self == .null }

    /// The member named `key` when this is an object, else `nil`.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// A short phrase naming the kind of value, for error messages: "a string", "an object".
    public var kindDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// The value as it appears in an error message: scalars as compact JSON (long strings
    /// shortened), arrays and objects by kind.
    public var errorDescription: String {
        switch self {
        case .array, .object:
            return kindDescription
        case .string(let text) where text.count > 60:
            return JSONValue.string(String(text.prefix(57)) + "...").encoded()
        default:
            return encoded()
        }
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByStringLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .number(JSONNumber(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }

    /// Builds an object; members keep the literal's order. Duplicate keys are a programming error.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var object = JSONObject()
        for (key, value) in elements {
            precondition(object[key] == nil, "duplicate key \(key.debugDescription) in JSON object literal")
            object.append(key: key, value: value)
        }
        self = .object(object)
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON encoding.
    public var description: String { encoded() }
}

// MARK: - JSONObject

/// The members of a JSON object, in document order, with unique keys.
public struct JSONObject: Sendable, Hashable, RandomAccessCollection {
    /// One `"key": value` pair.
    public struct Member: Sendable, Hashable {
        public var key: String
        public var value: JSONValue

        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    /// The members in order.
    public private(set) var members: [Member]

    /// An empty object.
    public init() { members = [] }

    /// An object from members whose keys must be unique (checked).
    public init(_ members: [Member]) {
        self.init()
        for member in members {
            precondition(self[member.key] == nil, "duplicate key \(member.key.debugDescription) in JSONObject")
            self.members.append(member)
        }
    }

    init(uncheckedMembers members: [Member]) { self.members = members }

    public var startIndex: Int { members.startIndex }
    public var endIndex: Int { members.endIndex }
    public subscript(position: Int) -> Member { members[position] }

    /// The keys in order.
    public var keys: [String] { members.map(\.key) }

    /// The value stored under `key`; setting `nil` removes the member, setting a new key appends.
    public subscript(key: String) -> JSONValue? {
        get { members.first(where: { $0.key == key })?.value }
        set {
            let existing = members.firstIndex(where: { $0.key == key })
            switch (existing, newValue) {
            case (let index?, let value?): members[index].value = value
            case (let index?, nil): members.remove(at: index)
            case (nil, let value?): members.append(Member(key: key, value: value))
            case (nil, nil): break
            }
        }
    }

    /// Appends a member; `key` must not already be present.
    public mutating func append(key: String, value: JSONValue) {
        precondition(self[key] == nil, "duplicate key \(key.debugDescription) in JSONObject")
        members.append(Member(key: key, value: value))
    }
}

// MARK: - Building values

extension JSONValue {
    /// An integer of any width, printed exactly (`UInt64.max` stays `18446744073709551615`).
    public init(_ value: some BinaryInteger) {
        self = .number(JSONNumber(validatedText: String(value)))
    }

    /// A finite double; `nil` for NaN and infinities.
    public init?(_ value: Double) {
        guard let number = JSONNumber(value) else { return nil }
        self = .number(number)
    }
}
