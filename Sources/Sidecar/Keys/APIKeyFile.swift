import DiscoCore

// MARK: - -api-key-file

/// The keys a sidecar checks instead of the cluster's replicated ones (`-api-key-file`): a JSON array of
/// `{"app_id": "…", "app_key_sha256": "<64 hex digits>", "revoked": false}`, the SHA-256 of each
/// key rather than the key (`printf %s "$KEY" | sha256sum`). Errors name the entry and the field.
public struct APIKeyFile: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var appID: String
        /// SHA-256 of the key's UTF-8 bytes.
        public var keySHA256: [UInt8]
        public var revoked: Bool
    }

    public var entries: [Entry]

    static let fields = ["app_id", "app_key_sha256", "revoked"]

    /// Parses the file's bytes; `path` names it in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws(ConfigError) -> APIKeyFile {
        let context = "-api-key-file \(path.debugDescription)"
        let json: JSONValue
        do throws(JSONParseError) {
            json = try JSONValue.parse(bytes)
        } catch {
            throw ConfigError(code: .syntax, field: nil, message: "\(context): not JSON: \(error)", syntax: error)
        }
        guard case .array(let elements) = json else {
            throw ConfigError(code: .invalidValue, field: nil,
                              message: "\(context): expected an array of {\"app_id\": …, \"app_key_sha256\": …}, got \(json.errorDescription)")
        }
        var entries: [Entry] = []
        for (index, element) in elements.enumerated() {
            let reader = try JSONObjectReader(element, context: context, allowedFields: fields, path: "[\(index)].")
            let appID = try reader.required("app_id", try reader.nonEmptyString("app_id"), example: #"{"app_id":"app1","app_key_sha256":"…"}"#)
            if entries.contains(where: { $0.appID == appID }) {
                throw reader.error("app_id", "\(appID.debugDescription) is listed twice; give each application one entry")
            }
            let hex = try reader.required("app_key_sha256", try reader.string("app_key_sha256"), example: #""app_key_sha256":"<64 hex digits>""#)
            guard let digest = Hex.decode(hex), digest.count == 32 else {
                throw reader.error("app_key_sha256", "expected the key's SHA-256 as 64 hexadecimal digits (printf %s \"$KEY\" | sha256sum)")
            }
            entries.append(Entry(appID: appID, keySHA256: digest, revoked: try reader.bool("revoked") ?? false))
        }
        return APIKeyFile(entries: entries)
    }
}
