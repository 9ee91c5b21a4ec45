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
    /// Too many password checks are waiting: the credentials were not checked; retry shortly.
    case busy(reason: String)
}

// MARK: - CredentialStore

/// Checks HTTP Basic credentials against the `-auth` file.
///
/// A request without credentials gets the `"*"` entry's permissions; a request with valid ones
/// gets the user's permissions plus those; wrong credentials are rejected even when `"*"` would
/// allow the request. Verifying a hashed password is slow on purpose (PBKDF2 or scrypt), so the
/// store remembers, per user, an HMAC (under a random per-process key) of the last password that
/// verified; a repeat of that password is checked with one HMAC and a constant-time comparison.
/// Hash verification runs on threads of its own, off the cooperative thread pool, a few at a
/// time (``PasswordCheckGate``). A user name that is not in the file costs the same check as a
/// wrong password (against a decoy hash with the file's parameters), so the answer's timing does
/// not tell which user names exist.
public final class CredentialStore: Sendable {
    public let file: AuthFile
    private let users: [String: AuthUser]
    private let anonymous: Set<Permission>
    private let cacheKey: [UInt8]
    /// Checked for unknown users: the first hashed password's scheme and cost, with a random
    /// salt and hash that no password matches.
    private let decoy: StoredPassword
    /// Username → HMAC of the password that last verified.
    private let verified = Mutex<[String: [UInt8]]>([:])
    /// Slow checks: a few at a time.
    public let gate: PasswordCheckGate

    /// `concurrentChecks` slow checks run at once (default: the processors online), and up to
    /// `waitingChecks` wait their turn; more are answered ``Authentication/busy(reason:)``.
    public init(file: AuthFile, concurrentChecks: Int? = nil, waitingChecks: Int = 64) throws(CryptoError) {
        self.file = file
        users = Dictionary(file.users.filter { !$0.isAnyone }.map { ($0.username, $0) }, uniquingKeysWith: { first, _ in first })
        anonymous = file.anonymousPermissions
        cacheKey = try SystemCrypto.randomBytes(32)
        decoy = try Self.decoy(like: file.users.compactMap(\.password))
        gate = PasswordCheckGate(limit: concurrentChecks ?? PasswordCheckGate.processorsOnline, maxWaiting: waitingChecks)
    }

    /// A password no one can match, as slow to check as the first hashed one of `passwords`.
    static func decoy(like passwords: [StoredPassword]) throws(CryptoError) -> StoredPassword {
        let salt = try SystemCrypto.randomBytes(16)
        let hash = try SystemCrypto.randomBytes(32)
        for password in passwords {
            switch password {
            case .plain: continue
            case .pbkdf2SHA256(let iterations, _, _):
                return .pbkdf2SHA256(iterations: iterations, salt: salt, hash: hash)
            case .scrypt(let logN, let blockSize, let parallelism, _, _):
                return .scrypt(logN: logN, blockSize: blockSize, parallelism: parallelism, salt: salt, hash: hash)
            }
        }
        return .plain(hash.map { String($0, radix: 16) }.joined())
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
            guard await checked(decoy, credentials.password) != nil else { return Self.busy }
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
        guard let matches = await checked(stored, credentials.password) else { return Self.busy }
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

    /// Whether `password` matches `stored`: plain passwords at once, hashes through the gate
    /// (nil when it is full).
    private func checked(_ stored: StoredPassword, _ password: String) async -> Bool? {
        guard stored.isHashed else { return (try? stored.verify(password)) ?? false }
        return await gate.run { (try? stored.verify(password)) ?? false }
    }

    static let busy = Authentication.busy(reason: "too many password checks are in progress; retry in a second")
}
