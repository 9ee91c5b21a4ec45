// MARK: - KVStore

/// The replicated key-value map, as a pure value: ``apply(_:index:)`` is deterministic, so every
/// node that applies the same log holds the same keys with the same revisions.
public struct KVStore: Hashable, Sendable {
    /// Entries by namespace, then name.
    private(set) var namespaces: [String: [String: KVEntry]] = [:]
    /// How many keys the store holds.
    public private(set) var count = 0
    /// The size of the store (namespaces, names and values), in bytes, as ``KVLimits/maxBytes`` bounds it.
    public private(set) var bytes = 0

    public init() {}

    /// The store holding exactly `entries` (restored from a snapshot, so within the limits).
    init(entries: [KVEntry]) {
        for entry in entries {
            namespaces[entry.key.namespace, default: [:]][entry.key.name] = entry
            count += 1
            bytes += Self.size(entry.key, entry.value)
        }
    }

    /// What a key costs against ``KVLimits/maxBytes``.
    static func size(_ key: KVKey, _ value: [UInt8]) -> Int {
        key.namespace.utf8.count + key.name.utf8.count + value.count
    }

    // MARK: Reading

    public func entry(_ key: KVKey) -> KVEntry? { namespaces[key.namespace]?[key.name] }

    /// The keys of `namespace` whose names start with `prefix`, in name order.
    public func range(namespace: String, prefix: String = "") -> [KVEntry] {
        guard let names = namespaces[namespace] else { return [] }
        let matching = prefix.isEmpty ? Array(names.values) : names.values.filter { $0.key.name.hasPrefix(prefix) }
        return matching.sorted { $0.key.name < $1.key.name }
    }

    /// Every entry, in key order (what a snapshot holds).
    public var sortedEntries: [KVEntry] {
        namespaces.keys.sorted().flatMap { range(namespace: $0) }
    }

    // MARK: Applying

    /// Applies `transaction` committed at log `index`: when every condition holds and the result
    /// stays within ``KVLimits``, all its writes take effect with revision `index`; otherwise
    /// nothing changes. The transaction is expected to be within its own limits
    /// (``KVTransaction/problem``), as decoded commands are.
    public mutating func apply(_ transaction: KVTransaction, index: UInt64) -> KVTransactionResult {
        for condition in transaction.conditions {
            let found = entry(condition.key)?.revision ?? 0
            if found != condition.revision {
                return .conflict(key: condition.key, expected: condition.revision, found: found)
            }
        }
        // The transaction's writes in order, later ones over earlier ones (nil: deleted).
        var overlay: [KVKey: [UInt8]?] = [:]
        var order: [KVKey] = []
        func write(_ key: KVKey, _ value: [UInt8]?) {
            if overlay.updateValue(value, forKey: key) == nil { order.append(key) }
        }
        for operation in transaction.operations {
            switch operation {
            case .put(let key, let value):
                write(key, value)
            case .delete(let key):
                write(key, nil)
            case .deletePrefix(let namespace, let prefix):
                for entry in range(namespace: namespace, prefix: prefix) { write(entry.key, nil) }
                for key in order where key.namespace == namespace && key.name.hasPrefix(prefix) { write(key, nil) }
            }
        }
        var newCount = count
        var newBytes = bytes
        var changes: [KVChange] = []
        for key in order {
            let old = entry(key)
            guard let value = overlay[key] ?? nil else {
                if let old {
                    newCount -= 1
                    newBytes -= Self.size(key, old.value)
                    changes.append(KVChange(key: key, value: nil, revision: index))
                }
                continue
            }
            if let old { newBytes -= Self.size(key, old.value) } else { newCount += 1 }
            newBytes += Self.size(key, value)
            changes.append(KVChange(key: key, value: value, revision: index))
        }
        if newCount > KVLimits.maxKeys, newCount > count {
            return .refused("the store would hold \(newCount) keys; the limit is \(KVLimits.maxKeys): delete keys first")
        }
        if newBytes > KVLimits.maxBytes, newBytes > bytes {
            return .refused("the store would hold \(newBytes) bytes; the limit is \(KVLimits.maxBytes) bytes: delete keys first")
        }
        for change in changes {
            let key = change.key
            if let value = change.value {
                let created = entry(key)?.created ?? index
                namespaces[key.namespace, default: [:]][key.name] = KVEntry(key: key, value: value, created: created, revision: index)
            } else {
                namespaces[key.namespace]?[key.name] = nil
                if namespaces[key.namespace]?.isEmpty == true { namespaces[key.namespace] = nil }
            }
        }
        count = newCount
        bytes = newBytes
        return .committed(revision: index, changes: changes)
    }
}
