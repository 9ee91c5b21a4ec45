import DiscoCore

// MARK: - Replicated key-value state

/// A key of the replicated key-value state that plug-ins (roles, the sidecar, leases, consumer
/// cursors) share: a namespace owned by one feature, and a name within it.
///
/// The shape is etcd's: every key has a revision (the log index of its last change), writes are
/// transactions guarded by revisions (compare-and-set), reads take a namespace and a name prefix,
/// and watches report every change after a revision. The etcd engine maps a key to
/// `<prefix>/kv/<namespace>/<name>` one to one.
public struct KVKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The owner: 1 to 63 lowercase letters, digits, `-` and `.`, starting with a letter
    /// (e.g. `"api-keys"`, `"lease.web"`).
    public var namespace: String
    /// The name within the namespace: 1 to 255 bytes of UTF-8 without control characters.
    public var name: String

    public init(_ namespace: String, _ name: String) {
        self.namespace = namespace
        self.name = name
    }

    public static func < (lhs: KVKey, rhs: KVKey) -> Bool {
        lhs.namespace != rhs.namespace ? lhs.namespace < rhs.namespace : lhs.name < rhs.name
    }

    public var description: String { "\(namespace)/\(name)" }

    /// Nil when the key is valid; else what is wrong.
    public var problem: String? { KVLimits.namespaceProblem(namespace) ?? KVLimits.nameProblem(name, what: "key name") }
}

/// One key with its value and revisions.
public struct KVEntry: Hashable, Sendable {
    public var key: KVKey
    public var value: [UInt8]
    /// The log index that created the key (etcd's `create_revision`).
    public var created: UInt64
    /// The log index of the last change (etcd's `mod_revision`); compare-and-set compares it.
    public var revision: UInt64

    public init(key: KVKey, value: [UInt8], created: UInt64, revision: UInt64) {
        self.key = key
        self.value = value
        self.created = created
        self.revision = revision
    }
}

/// A condition of a transaction: the key's revision equals `revision` (0: the key does not exist).
public struct KVCondition: Hashable, Sendable {
    public var key: KVKey
    public var revision: UInt64

    public init(_ key: KVKey, revision: UInt64) {
        self.key = key
        self.revision = revision
    }

    /// The key must not exist.
    public static func absent(_ key: KVKey) -> KVCondition { KVCondition(key, revision: 0) }
}

/// One write of a transaction.
public enum KVOperation: Hashable, Sendable {
    /// Sets the key's value (creating it when absent).
    case put(KVKey, [UInt8])
    /// Deletes the key (nothing when absent).
    case delete(KVKey)
    /// Deletes every key of `namespace` whose name starts with `prefix` (all of them for "").
    case deletePrefix(namespace: String, prefix: String)
}

/// Writes applied together if and only if every condition holds (etcd's `Txn` with revision
/// compares and no `else` branch).
public struct KVTransaction: Hashable, Sendable {
    public var conditions: [KVCondition]
    public var operations: [KVOperation]

    public init(conditions: [KVCondition] = [], operations: [KVOperation]) {
        self.conditions = conditions
        self.operations = operations
    }

    /// Nil when the transaction is within the limits; else what is wrong (the first problem).
    public var problem: String? {
        if operations.isEmpty { return "a transaction needs at least one operation" }
        if operations.count > KVLimits.maxOperations {
            return "\(operations.count) operations exceed the limit of \(KVLimits.maxOperations) per transaction"
        }
        if conditions.count > KVLimits.maxConditions {
            return "\(conditions.count) conditions exceed the limit of \(KVLimits.maxConditions) per transaction"
        }
        for condition in conditions { if let problem = condition.key.problem { return problem } }
        for operation in operations {
            switch operation {
            case .put(let key, let value):
                if let problem = key.problem { return problem }
                if value.count > KVLimits.maxValueBytes {
                    return "value of \(key) is \(value.count) bytes; the limit is \(KVLimits.maxValueBytes) bytes"
                }
            case .delete(let key):
                if let problem = key.problem { return problem }
            case .deletePrefix(let namespace, let prefix):
                if let problem = KVLimits.namespaceProblem(namespace) { return problem }
                if prefix.utf8.count > KVLimits.maxNameBytes {
                    return "prefix is \(prefix.utf8.count) bytes; the limit is \(KVLimits.maxNameBytes) bytes"
                }
            }
        }
        return nil
    }
}

/// One key's change, as a transaction made it and watches report it.
public struct KVChange: Hashable, Sendable {
    public var key: KVKey
    /// The new value; nil when the key was deleted.
    public var value: [UInt8]?
    /// The log index of the transaction.
    public var revision: UInt64

    public init(key: KVKey, value: [UInt8]?, revision: UInt64) {
        self.key = key
        self.value = value
        self.revision = revision
    }
}

/// What a transaction did.
public enum KVTransactionResult: Hashable, Sendable {
    /// Every condition held; the writes were applied at `revision` (changes in operation order,
    /// deletes of absent keys left out).
    case committed(revision: UInt64, changes: [KVChange])
    /// A condition failed: `key` is at `found` (0: absent), not `expected`. Nothing was written.
    case conflict(key: KVKey, expected: UInt64, found: UInt64)
    /// The transaction would exceed a bound of the store (keys or bytes). Nothing was written.
    case refused(String)
}

// MARK: - Limits

/// Bounds of the replicated key-value state, so it fits in memory, snapshots and log entries.
public enum KVLimits {
    /// Longest namespace, in bytes.
    public static let maxNamespaceBytes = 63
    /// Longest key name, in bytes.
    public static let maxNameBytes = 255
    /// Largest value: 64 KiB.
    public static let maxValueBytes = 64 << 10
    /// Most operations, and most conditions, in one transaction.
    public static let maxOperations = 64
    public static let maxConditions = 64
    /// Most keys in the store.
    public static let maxKeys = 100_000
    /// Most bytes (names and values) in the store: 64 MiB.
    public static let maxBytes = 64 << 20

    /// Nil when `namespace` is valid; else what is wrong.
    public static func namespaceProblem(_ namespace: String) -> String? {
        let bytes = Array(namespace.utf8)
        guard !bytes.isEmpty, bytes.count <= maxNamespaceBytes else {
            return "namespace \(namespace.debugDescription) must be 1 to \(maxNamespaceBytes) bytes long"
        }
        let lower = (UInt8(ascii: "a")...UInt8(ascii: "z"))
        let valid = bytes.allSatisfy { lower.contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == 0x2D || $0 == 0x2E }
        guard valid, lower.contains(bytes[0]) else {
            return "namespace \(namespace.debugDescription) must be lowercase letters, digits, '-' and '.', starting with a letter"
        }
        return nil
    }

    /// Nil when `name` is 1 to 255 bytes without control characters; else what is wrong.
    public static func nameProblem(_ name: String, what: String) -> String? {
        let count = name.utf8.count
        guard count >= 1, count <= maxNameBytes else { return "\(what) \(name.debugDescription) must be 1 to \(maxNameBytes) bytes long" }
        guard !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            return "\(what) \(name.debugDescription) must not contain control characters"
        }
        return nil
    }
}
