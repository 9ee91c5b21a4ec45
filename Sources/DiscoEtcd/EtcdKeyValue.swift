import DiscoCore

// MARK: - EtcdKeyValue

/// One key as etcd stores it, with its revisions.
public struct EtcdKeyValue: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]
    /// The revision that created the key (0 for a key that does not exist).
    public var createRevision: Int64
    /// The revision of the last write to the key.
    public var modRevision: Int64
    /// How many times the key was written since it was created.
    public var version: Int64
    /// The lease the key is attached to (0: none).
    public var lease: Int64

    public init(key: String, value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64, lease: Int64 = 0) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }

    /// Decodes one `kv` object of the gateway (base64 key and value, int64s as strings).
    init?(gateway object: [String: Any]) {
        guard let keyBytes = EtcdGateway.bytes(fromBase64: object["key"]),
              let value = EtcdGateway.bytes(fromBase64: object["value"]) else { return nil }
        self.init(key: String(decoding: keyBytes, as: UTF8.self), value: value,
                  createRevision: EtcdGateway.int64(object["create_revision"]),
                  modRevision: EtcdGateway.int64(object["mod_revision"]),
                  version: EtcdGateway.int64(object["version"]), lease: EtcdGateway.int64(object["lease"]))
    }

    public var text: String { String(decoding: value, as: UTF8.self) }
}

/// A range's answer: the keys, the store's revision when it was read, and whether more keys
/// matched than `limit` allowed.
public struct EtcdRange: Sendable, Hashable {
    public var kvs: [EtcdKeyValue]
    public var revision: Int64
    public var more: Bool
    public var count: Int64
}

// MARK: - Keys

/// Key helpers: prefixes are ranges `[prefix, prefixEnd)`.
public enum EtcdKey {
    /// The first key after every key starting with `prefix` (the last byte plus one, dropping
    /// trailing 0xff bytes); `\0` (every key) when there is no such key.
    public static func prefixEnd(_ prefix: String) -> [UInt8] {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xff {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return [0]
    }
}
