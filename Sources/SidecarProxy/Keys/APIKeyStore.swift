import DiscoAuth
import DiscoCore
import Sidecar
import Synchronization

// MARK: - API keys at rest

/// One application's key as stored: never the key itself, only a salted SHA-256 of it
/// (libcrypto), checked in constant time. Keys are long random tokens (``APIKey/generate()``),
/// so a fast hash suffices: guessing is hopeless, and every request can afford the check.
public struct APIKeyRecord: Hashable, Sendable {
    public var appID: String
    public var salt: [UInt8]
    /// SHA-256 of `salt` followed by the key's UTF-8 bytes.
    public var hash: [UInt8]
    public var revoked: Bool

    public init(appID: String, salt: [UInt8], hash: [UInt8], revoked: Bool = false) {
        self.appID = appID
        self.salt = salt
        self.hash = hash
        self.revoked = revoked
    }

    /// A record for `key`, with a fresh random salt.
    public static func hashing(appID: String, key: String) throws(CryptoError) -> APIKeyRecord {
        let salt = try SystemCrypto.randomBytes(16)
        return APIKeyRecord(appID: appID, salt: salt, hash: try SystemCrypto.sha256(salt + Array(key.utf8)))
    }

    /// Whether `key` is this record's key (constant time in the key's hash). It runs for every
    /// request that needs a key, and allocates nothing (``SystemCrypto/sha256(of:followedBy:equals:)``).
    public func matches(_ key: String) -> Bool {
        SystemCrypto.sha256(of: salt, followedBy: key, equals: hash)
    }
}

/// Making keys.
public enum APIKey {
    /// A new key: 32 random bytes from OpenSSL, base64url without padding (43 characters).
    public static func generate() throws(CryptoError) -> String {
        let encoded = Base64.encode(try SystemCrypto.randomBytes(32))
        return String(encoded.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 }.filter { $0 != "=" })
    }
}

/// What a request whose key was checked is about to do here, which says how current the keys
/// it was checked against must be (``APIKeyStore/currency(for:)``).
public enum APIKeyUse: Sendable, Hashable {
    /// It goes to this sidecar's own upstream on a route that sends it to the writer: this
    /// sidecar is the writer, and its check is the one that counts. It must see every key change
    /// committed before the request arrived.
    case write
    /// It is served by this sidecar's own upstream on a route that does not go to the writer (a
    /// read): the keys may lag the cluster's, but only by a bounded time.
    case read
}

/// Where the API-key check finds keys: the cluster's replicated state in a running sidecar, a
/// dictionary in tests. Lookups happen on every checked request, some of them on an event-loop
/// thread (the proxy's inline lane): ``record(appID:)`` and ``readCurrency()`` answer from
/// memory and never wait.
public protocol APIKeyStore: Sendable {
    /// The record of `appID`, or nil when there is none. Never waits.
    func record(appID: String) -> APIKeyRecord?

    /// Whether the keys may be trusted for a ``APIKeyUse/read`` now: ``APIKeyCurrency/current``,
    /// or ``APIKeyCurrency/stale(_:)`` saying why not. Never waits. The default: a store that is
    /// always current (a file's keys, a dictionary).
    func readCurrency() -> APIKeyCurrency

    /// Whether the keys may be trusted for a ``APIKeyUse/write``, after bringing them up to date
    /// if need be (then ``APIKeyCurrency/caughtUp``). The default: always current.
    func writeCurrency() async -> APIKeyCurrency
}

/// How current a store's keys are for one request (``APIKeyStore/currency(for:)``).
public enum APIKeyCurrency: Sendable, Hashable {
    /// As current as the request needs: the check already made stands.
    case current
    /// Brought up to date for this request: the key must be checked again.
    case caughtUp
    /// They may be stale, for this reason: the request is answered 503.
    case stale(String)
}

extension APIKeyStore {
    public func readCurrency() -> APIKeyCurrency { .current }

    public func writeCurrency() async -> APIKeyCurrency { .current }

    /// Whether the keys may be trusted for `use` now (for a write, after bringing them up to
    /// date if need be): ``readCurrency()`` or ``writeCurrency()``.
    public func currency(for use: APIKeyUse) async -> APIKeyCurrency {
        switch use {
        case .read: readCurrency()
        case .write: await writeCurrency()
        }
    }
}

/// Keys held in memory (tests, and a sidecar given its keys at start).
public final class InMemoryAPIKeyStore: APIKeyStore {
    private let records = Mutex<[String: APIKeyRecord]>([:])

    public init(_ records: [APIKeyRecord] = []) {
        for record in records { self.records.withLock { $0[record.appID] = record } }
    }

    /// The keys of an `-api-key-file` (unsalted SHA-256 of each key, as the file holds them).
    public convenience init(file: APIKeyFile) {
        self.init(file.entries.map { APIKeyRecord(appID: $0.appID, salt: [], hash: $0.keySHA256, revoked: $0.revoked) })
    }

    public func record(appID: String) -> APIKeyRecord? { records.withLock { $0[appID] } }

    /// Adds or replaces `record`.
    public func put(_ record: APIKeyRecord) { records.withLock { $0[record.appID] = record } }

    /// Marks `appID`'s key revoked; false when there is none.
    @discardableResult
    public func revoke(appID: String) -> Bool {
        records.withLock { records in
            guard records[appID] != nil else { return false }
            records[appID]?.revoked = true
            return true
        }
    }
}
