import DiscoCore
import Dispatch
import Synchronization

// MARK: - Caller

/// Who made a request, as far as the `-auth` file can tell.
public struct Caller: Sendable, Hashable, CustomStringConvertible {
    /// The authenticated user (nil: no credentials were sent).
    public var username: String?
    /// What the caller may do: the user's permissions plus those of `"*"`.
    public var permissions: Set<Permission>

    public init(username: String?, permissions: Set<Permission>) {
        self.username = username
        self.permissions = permissions
    }

    public func may(_ permission: Permission) -> Bool { permissions.grants(permission) }

    public var description: String { username.map { "user \($0.debugDescription)" } ?? "an anonymous caller" }
}

/// The outcome of checking a request's credentials.
public enum Authentication: Sendable, Hashable {
    /// No credentials, or valid ones.
    case caller(Caller)
    /// Credentials were sent and are wrong (unknown user, wrong password, malformed header).
    case rejected(reason: String)
}

// MARK: - CredentialStore

/// Checks HTTP Basic credentials against the `-auth` file.
///
/// A request without credentials gets the `"*"` entry's permissions; a request with valid ones
/// gets the user's permissions plus those; wrong credentials are rejected even when `"*"` would
/// allow the request. Verifying a hashed password is slow on purpose (PBKDF2 or scrypt), so the
/// store remembers, per user, an HMAC (under a random per-process key) of the last password that
/// verified; a repeat of that password is checked with one HMAC and a constant-time comparison.
/// Hash verification runs on a Dispatch queue, off the cooperative thread pool.
public final class CredentialStore: Sendable {
    public let file: AuthFile
    private let users: [String: AuthUser]
    private let anonymous: Set<Permission>
    private let cacheKey: [UInt8]
    /// Username → HMAC of the password that last verified.
    private let verified = Mutex<[String: [UInt8]]>([:])

    public init(file: AuthFile) throws(CryptoError) {
        self.file = file
        users = Dictionary(file.users.filter { !$0.isAnyone }.map { ($0.username, $0) }, uniquingKeysWith: { first, _ in first })
        anonymous = file.anonymousPermissions
        cacheKey = try SystemCrypto.randomBytes(32)
    }

    /// What every caller may do without credentials.
    public var anonymousPermissions: Set<Permission> { anonymous }

    /// Checks an `Authorization` header value (nil: none was sent).
    public func authenticate(authorization header: String?) async -> Authentication {
        guard let header else { return .caller(Caller(username: nil, permissions: anonymous)) }
        guard let credentials = BasicCredentials(authorization: header) else {
            return .rejected(reason: "the Authorization header is not HTTP Basic credentials (Basic base64(user:password))")
        }
        return await authenticate(credentials)
    }

    /// Checks a user name and password.
    public func authenticate(_ credentials: BasicCredentials) async -> Authentication {
        guard let user = users[credentials.username], let stored = user.password else {
            return .rejected(reason: "unknown user or wrong password")
        }
        let granted = Caller(username: user.username, permissions: user.permissions.union(anonymous))
        let secret = Array(credentials.password.utf8)
        guard let mac = try? SystemCrypto.hmacSHA256(key: cacheKey, secret) else {
            return .rejected(reason: "the password could not be checked (libcrypto failed)")
        }
        if let remembered = verified.withLock({ $0[user.username] }), SystemCrypto.constantTimeEqual(remembered, mac) {
            return .caller(granted)
        }
        let matches = await Self.offPool { (try? stored.verify(credentials.password)) ?? false }
        guard matches else { return .rejected(reason: "unknown user or wrong password") }
        verified.withLock { $0[user.username] = mac }
        return .caller(granted)
    }

    /// The `Authorization` header value for `-join-as` (nil without one, or when its password
    /// is stored hashed, which ``DiscodOptions`` refuses).
    public static func authorization(for user: AuthUser?) -> String? {
        guard let user, case .plain(let password)? = user.password else { return nil }
        return BasicCredentials(username: user.username, password: password).headerValue
    }

    private static func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            // A serial queue per verification runs on a thread of its own: a concurrent or global
            // queue shares its threads with the cooperative pool on Linux, and a slow hash there
            // would stall every task in the process.
            DispatchQueue(label: "disco.auth.verify").async { continuation.resume(returning: work()) }
        }
    }
}
