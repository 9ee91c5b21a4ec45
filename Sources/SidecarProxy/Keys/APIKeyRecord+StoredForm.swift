import DiscoCore

// MARK: - A record as the cluster's replicated state keeps it

extension APIKeyRecord {
    /// The record as the cluster's replicated state keeps it (its `app_id` is the entry's name):
    /// `{"salt": base64, "sha256": base64, "revoked": bool}`.
    public var storedForm: [UInt8] {
        var object = JSONObject()
        object.append(key: "salt", value: .string(Base64.encode(salt)))
        object.append(key: "sha256", value: .string(Base64.encode(hash)))
        object.append(key: "revoked", value: .bool(revoked))
        return JSONValue.object(object).encodedBytes()
    }

    /// The record of `appID` kept as `bytes` (``storedForm``); nil when they are not that form.
    public init?(storedForm bytes: [UInt8], appID: String) {
        guard let json = try? JSONValue.parse(bytes), let salt = json["salt"]?.stringValue.flatMap(Base64.decode),
              let hash = json["sha256"]?.stringValue.flatMap(Base64.decode) else { return nil }
        self.init(appID: appID, salt: salt, hash: hash, revoked: json["revoked"]?.boolValue ?? false)
    }
}
