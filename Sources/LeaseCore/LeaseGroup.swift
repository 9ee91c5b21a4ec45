import DiscoCore

// MARK: - LeaseGroup

/// The name of a hot/cold group (`-hot-cold-group`): the replicas that share one lease, of which
/// at most one is hot at a time.
///
/// Names follow the rules of ``NodeID`` (non-empty, at most 255 bytes of UTF-8, no whitespace
/// or control characters), so they fit the replicated log's one-byte name fields and appear in
/// logs, URLs and JSON without escaping.
public struct LeaseGroup: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The name as the operator wrote it.
    public let rawValue: String

    /// The group used when none is named.
    public static let `default`: LeaseGroup = "default"

    /// Creates a group name, or returns `nil` when `rawValue` is not an acceptable name.
    public init?(_ rawValue: String) {
        guard Self.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// Creates a group name from a literal written in code. Invalid literals are a programming error.
    public init(stringLiteral value: String) {
        precondition(Self.isValid(value), "invalid LeaseGroup literal \(value.debugDescription)")
        self.rawValue = value
    }

    /// Whether `value` is an acceptable group name.
    public static func isValid(_ value: String) -> Bool {
        value.utf8.count <= 255 && NodeID.isValid(value)
    }

    public var description: String { rawValue }

    public static func < (lhs: LeaseGroup, rhs: LeaseGroup) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }
}
