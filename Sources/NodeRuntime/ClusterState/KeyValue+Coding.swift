// MARK: - Coding of key-value transactions and entries

extension KVTransaction {
    /// Operation bytes.
    enum OperationCode: UInt8 {
        case put = 1, delete = 2, deletePrefix = 3
    }

    /// Writes the transaction (the caller has checked ``problem``).
    func encode(into writer: inout ClusterByteWriter) {
        writer.u8(UInt8(truncatingIfNeeded: conditions.count))
        for condition in conditions {
            condition.key.encode(into: &writer)
            writer.u64(condition.revision)
        }
        writer.u8(UInt8(truncatingIfNeeded: operations.count))
        for operation in operations {
            switch operation {
            case .put(let key, let value):
                writer.u8(OperationCode.put.rawValue)
                key.encode(into: &writer)
                writer.blob(value)
            case .delete(let key):
                writer.u8(OperationCode.delete.rawValue)
                key.encode(into: &writer)
            case .deletePrefix(let namespace, let prefix):
                writer.u8(OperationCode.deletePrefix.rawValue)
                writer.name(namespace)
                writer.name(prefix)
            }
        }
    }

    /// Reads a transaction, refusing one outside its limits (``problem``).
    static func decode(from reader: inout ClusterByteReader) throws(ClusterCodingError) -> KVTransaction {
        let conditionStart = reader.offset
        let conditionCount = Int(try reader.u8("conditions.count"))
        guard conditionCount <= KVLimits.maxConditions else {
            throw reader.error(.invalidValue, "conditions.count", at: conditionStart,
                               "expected at most \(KVLimits.maxConditions) conditions, found \(conditionCount)")
        }
        var conditions: [KVCondition] = []
        for position in 0..<conditionCount {
            let key = try KVKey.decode(from: &reader, field: "conditions[\(position)]")
            conditions.append(KVCondition(key, revision: try reader.u64("conditions[\(position)].revision")))
        }
        let operationStart = reader.offset
        let operationCount = Int(try reader.u8("operations.count"))
        guard (1...KVLimits.maxOperations).contains(operationCount) else {
            throw reader.error(.invalidValue, "operations.count", at: operationStart,
                               "expected 1 to \(KVLimits.maxOperations) operations, found \(operationCount)")
        }
        var operations: [KVOperation] = []
        for position in 0..<operationCount {
            let field = "operations[\(position)]"
            let codeStart = reader.offset
            let byte = try reader.u8(field + ".op")
            guard let code = OperationCode(rawValue: byte) else {
                throw reader.error(.invalidValue, field + ".op", at: codeStart, "expected 1 (put), 2 (delete) or 3 (deletePrefix), found \(byte)")
            }
            switch code {
            case .put:
                let key = try KVKey.decode(from: &reader, field: field)
                operations.append(.put(key, try reader.blob(field + ".value", limit: KVLimits.maxValueBytes)))
            case .delete:
                operations.append(.delete(try KVKey.decode(from: &reader, field: field)))
            case .deletePrefix:
                let namespaceStart = reader.offset + 1
                let namespace = try reader.name(field + ".namespace")
                if let problem = KVLimits.namespaceProblem(namespace) {
                    throw reader.error(.invalidValue, field + ".namespace", at: namespaceStart, problem)
                }
                operations.append(.deletePrefix(namespace: namespace, prefix: try reader.name(field + ".prefix")))
            }
        }
        return KVTransaction(conditions: conditions, operations: operations)
    }
}

extension KVKey {
    func encode(into writer: inout ClusterByteWriter) {
        writer.name(namespace)
        writer.name(name)
    }

    /// Reads a namespace and a name, refusing invalid ones.
    static func decode(from reader: inout ClusterByteReader, field: String) throws(ClusterCodingError) -> KVKey {
        let namespaceStart = reader.offset + 1
        let namespace = try reader.name(field + ".namespace")
        if let problem = KVLimits.namespaceProblem(namespace) {
            throw reader.error(.invalidValue, field + ".namespace", at: namespaceStart, problem)
        }
        let nameStart = reader.offset + 1
        let name = try reader.name(field + ".name")
        if let problem = KVLimits.nameProblem(name, what: "key name") {
            throw reader.error(.invalidValue, field + ".name", at: nameStart, problem)
        }
        return KVKey(namespace, name)
    }
}

// MARK: - Snapshot section

extension KVStore {
    /// Writes the store: key count u32, entries in key order (namespace name8, name name8,
    /// created u64, revision u64, value u32-length + bytes).
    func encode(into writer: inout ClusterByteWriter) {
        writer.u32(UInt32(truncatingIfNeeded: count))
        for entry in sortedEntries {
            entry.key.encode(into: &writer)
            writer.u64(entry.created)
            writer.u64(entry.revision)
            writer.blob(entry.value)
        }
    }

    /// Reads what ``encode(into:)`` writes: keys strictly ascending, revisions at most
    /// `appliedIndex` with `created` ≤ `revision`, within ``KVLimits``.
    static func decode(from reader: inout ClusterByteReader, appliedIndex: UInt64) throws(ClusterCodingError) -> KVStore {
        let countStart = reader.offset
        let count = try reader.u32("kv.count")
        guard count <= KVLimits.maxKeys else {
            throw reader.error(.invalidValue, "kv.count", at: countStart, "expected at most \(KVLimits.maxKeys) keys, found \(count)")
        }
        var entries: [KVEntry] = []
        var bytes = 0
        for position in 0..<Int(count) {
            let field = "kv[\(position)]"
            let keyStart = reader.offset
            let key = try KVKey.decode(from: &reader, field: field)
            if let previous = entries.last?.key, !(previous < key) {
                throw reader.error(.invalidValue, field, at: keyStart, "expected keys in strictly ascending order, found \(key) after \(previous)")
            }
            let revisionStart = reader.offset
            let created = try reader.u64(field + ".created")
            let revision = try reader.u64(field + ".revision")
            guard created >= 1, created <= revision, revision <= appliedIndex else {
                throw reader.error(.invalidValue, field + ".revision", at: revisionStart,
                                   "expected 1 ≤ created ≤ revision ≤ the applied index \(appliedIndex), found created \(created), revision \(revision)")
            }
            let value = try reader.blob(field + ".value", limit: KVLimits.maxValueBytes)
            bytes += size(key, value)
            guard bytes <= KVLimits.maxBytes else {
                throw reader.error(.tooLarge, field, at: keyStart, "the keys hold more than the limit of \(KVLimits.maxBytes) bytes")
            }
            entries.append(KVEntry(key: key, value: value, created: created, revision: revision))
        }
        return KVStore(entries: entries)
    }
}
