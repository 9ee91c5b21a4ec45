import Foundation

// MARK: - Transactions (PUT /v1/txn)

extension ConsulKVModel {
    /// Most operations one transaction may carry.
    static let maxTxnOps = 128

    /// Applies every KV operation or none: a failing check rolls the whole transaction back and
    /// answers 409 with `Errors`; success answers 200 with `Results`.
    mutating func transaction(_ request: Request, now: Duration) -> Response {
        guard let ops = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [Any] else {
            return text(400, "Failed to parse body: expected a JSON array of operations")
        }
        guard ops.count <= Self.maxTxnOps else {
            return text(413, "Transaction contains too many operations (\(ops.count) > \(Self.maxTxnOps))")
        }
        var scratch = self
        var results: [[String: Any]] = []
        var errors: [[String: Any]] = []
        for (position, op) in ops.enumerated() {
            guard let kv = (op as? [String: Any])?["KV"] as? [String: Any] else {
                errors.append(["OpIndex": position, "What": "operation is not a KV operation"])
                continue
            }
            switch scratch.apply(kv, now: now) {
            case .success(let result?): results.append(["KV": result])
            case .success(nil): break
            case .failure(let error): errors.append(["OpIndex": position, "What": error.message])
            }
        }
        guard errors.isEmpty else {
            return json(409, ["Results": NSNull(), "Errors": errors])
        }
        self = scratch
        return json(200, ["Results": results, "Errors": NSNull()])
    }

    /// Applies one KV verb; returns the entry to report (with `Value` only for reads).
    mutating func apply(_ op: [String: Any], now: Duration) -> Result<[String: Any]?, KVError> {
        let verb = op["Verb"] as? String ?? ""
        guard let key = op["Key"] as? String else { return .failure(KVError(message: "missing key")) }
        var value: [UInt8] = []
        if let encoded = op["Value"] as? String, !encoded.isEmpty {
            guard let data = Data(base64Encoded: encoded) else {
                return .failure(KVError(message: "value for key \"\(key)\" is not valid base64"))
            }
            value = Array(data)
        }
        let flags = (op["Flags"] as? NSNumber)?.uint64Value ?? 0
        let index = (op["Index"] as? NSNumber)?.uint64Value ?? 0
        let session = op["Session"] as? String ?? ""

        func reported(withValue: Bool) -> [String: Any]? {
            guard let entry = entries[key] else { return nil }
            var object = render(key, entry)
            if !withValue { object["Value"] = NSNull() }
            return object
        }

        switch verb {
        case "set":
            _ = set(key, value: value, flags: flags, ifIndex: nil)
            return .success(reported(withValue: false))
        case "cas":
            guard set(key, value: value, flags: flags, ifIndex: index) else {
                return .failure(KVError(message: "failed to set key \"\(key)\", index is stale"))
            }
            return .success(reported(withValue: false))
        case "lock":
            switch lock(key, session: session, value: value, flags: flags, now: now) {
            case .success(true): return .success(reported(withValue: false))
            case .success(false): return .failure(KVError(message: "failed to lock key \"\(key)\", lock is already held"))
            case .failure(let error): return .failure(error)
            }
        case "unlock":
            switch unlock(key, session: session, value: value, flags: flags) {
            case .success(true): return .success(reported(withValue: false))
            case .success(false):
                return .failure(KVError(message: "failed to unlock key \"\(key)\", lock isn't held, or is held by another session"))
            case .failure(let error): return .failure(error)
            }
        case "get":
            guard entries[key] != nil else { return .failure(KVError(message: "key \"\(key)\" doesn't exist")) }
            return .success(reported(withValue: true))
        case "get-or-empty":
            return .success(reported(withValue: true))
        case "check-index":
            guard let entry = entries[key] else { return .failure(KVError(message: "key \"\(key)\" doesn't exist")) }
            guard entry.modifyIndex == index else {
                return .failure(KVError(message: "current modify index \(entry.modifyIndex) != \(index)"))
            }
            return .success(reported(withValue: false))
        case "check-session":
            guard let entry = entries[key] else { return .failure(KVError(message: "key \"\(key)\" doesn't exist")) }
            guard entry.session == session else {
                return .failure(KVError(message: "failed session check for key \"\(key)\", current session \(entry.session ?? "") != \(session)"))
            }
            return .success(reported(withValue: false))
        case "check-not-exists":
            guard entries[key] == nil else { return .failure(KVError(message: "key \"\(key)\" exists")) }
            return .success(nil)
        case "delete":
            _ = delete(key, ifIndex: nil)
            return .success(nil)
        case "delete-cas":
            guard delete(key, ifIndex: index) else {
                return .failure(KVError(message: "failed to delete key \"\(key)\", index is stale"))
            }
            return .success(nil)
        case "delete-tree":
            for name in entries.keys where name.hasPrefix(key) { _ = delete(name, ifIndex: nil) }
            return .success(nil)
        default:
            return .failure(KVError(message: "unknown KV verb \"\(verb)\""))
        }
    }
}
