import DiscoCore

// MARK: - Compare

/// One condition of a transaction, compared against a key's current state. A missing key
/// compares as version, create and mod revision 0 (so `createRevision == 0` means "absent");
/// a value comparison against a missing key is always false.
public struct EtcdCompare: Sendable, Hashable {
    public enum Target: Sendable, Hashable {
        case version(Int64)
        case createRevision(Int64)
        case modRevision(Int64)
        case value([UInt8])
        case lease(Int64)
    }

    public enum Result: String, Sendable, Hashable {
        case equal = "EQUAL", notEqual = "NOT_EQUAL", less = "LESS", greater = "GREATER"
    }

    public var key: String
    public var target: Target
    public var result: Result

    public init(_ key: String, _ target: Target, _ result: Result = .equal) {
        self.key = key
        self.target = target
        self.result = result
    }

    /// The key does not exist.
    public static func absent(_ key: String) -> EtcdCompare { EtcdCompare(key, .createRevision(0)) }

    var json: [String: Any] {
        var object: [String: Any] = ["key": EtcdGateway.base64(key), "result": result.rawValue]
        switch target {
        case .version(let version): object["target"] = "VERSION"; object["version"] = String(version)
        case .createRevision(let revision): object["target"] = "CREATE"; object["create_revision"] = String(revision)
        case .modRevision(let revision): object["target"] = "MOD"; object["mod_revision"] = String(revision)
        case .value(let bytes): object["target"] = "VALUE"; object["value"] = EtcdGateway.base64(bytes)
        case .lease(let lease): object["target"] = "LEASE"; object["lease"] = String(lease)
        }
        return object
    }
}

// MARK: - Operations

/// One operation of a transaction's `then` or `else` branch.
public enum EtcdOp: Sendable, Hashable {
    case put(key: String, value: [UInt8], lease: Int64 = 0)
    /// One key, or every key under it when `prefix` is true.
    case get(key: String, prefix: Bool = false)
    case delete(key: String, prefix: Bool = false)
    /// Every key in `[from, to)`.
    case deleteRange(from: String, to: String)

    var json: [String: Any] {
        switch self {
        case .put(let key, let value, let lease):
            var put: [String: Any] = ["key": EtcdGateway.base64(key), "value": EtcdGateway.base64(value)]
            if lease != 0 { put["lease"] = String(lease) }
            return ["request_put": put]
        case .get(let key, let prefix):
            var range: [String: Any] = ["key": EtcdGateway.base64(key)]
            if prefix { range["range_end"] = EtcdGateway.base64(EtcdKey.prefixEnd(key)) }
            return ["request_range": range]
        case .delete(let key, let prefix):
            var range: [String: Any] = ["key": EtcdGateway.base64(key)]
            if prefix { range["range_end"] = EtcdGateway.base64(EtcdKey.prefixEnd(key)) }
            return ["request_delete_range": range]
        case .deleteRange(let from, let to):
            return ["request_delete_range": ["key": EtcdGateway.base64(from), "range_end": EtcdGateway.base64(to)]]
        }
    }
}

/// What one operation returned.
public enum EtcdOpResult: Sendable, Hashable {
    case put
    case get([EtcdKeyValue])
    case delete(deleted: Int64)
}

// MARK: - Transaction

/// `if every compare holds then success else failure`, atomically.
public struct EtcdTxn: Sendable, Hashable {
    public var compare: [EtcdCompare]
    public var success: [EtcdOp]
    public var failure: [EtcdOp]

    public init(compare: [EtcdCompare], success: [EtcdOp], failure: [EtcdOp] = []) {
        self.compare = compare
        self.success = success
        self.failure = failure
    }

    var json: [String: Any] {
        ["compare": compare.map(\.json), "success": success.map(\.json), "failure": failure.map(\.json)]
    }
}

/// A transaction's outcome: which branch ran, its results, and the store's revision after it.
public struct EtcdTxnResult: Sendable, Hashable {
    public var succeeded: Bool
    public var revision: Int64
    public var results: [EtcdOpResult]
}
