import DiscoCore

// MARK: - Password hashing

extension StoredPassword {
    /// The scheme and cost for a new hash (`discoctl hash-password`).
    public enum Scheme: Sendable, Hashable {
        case pbkdf2SHA256(iterations: Int)
        case scrypt(logN: Int, blockSize: Int, parallelism: Int)

        /// PBKDF2-HMAC-SHA256 with 600,000 iterations (OWASP's figure for SHA-256).
        public static let standard = Scheme.pbkdf2SHA256(iterations: 600_000)
        /// scrypt with N = 2^15, r = 8, p = 1 (32 MiB per check).
        public static let standardScrypt = Scheme.scrypt(logN: 15, blockSize: 8, parallelism: 1)
    }

    /// A new salted hash of `password` (16 random bytes of salt, 32 bytes of hash).
    public static func hash(_ password: String, scheme: Scheme = .standard) throws(CryptoError) -> StoredPassword {
        let salt = try SystemCrypto.randomBytes(16)
        let secret = Array(password.utf8)
        switch scheme {
        case .pbkdf2SHA256(let iterations):
            let hash = try SystemCrypto.pbkdf2SHA256(password: secret, salt: salt, iterations: iterations, length: 32)
            return .pbkdf2SHA256(iterations: iterations, salt: salt, hash: hash)
        case .scrypt(let logN, let blockSize, let parallelism):
            let hash = try SystemCrypto.scrypt(password: secret, salt: salt, logN: logN, blockSize: blockSize,
                                               parallelism: parallelism, length: 32, maxMemory: scryptMaxMemory)
            return .scrypt(logN: logN, blockSize: blockSize, parallelism: parallelism, salt: salt, hash: hash)
        }
    }

    /// Whether `password` matches, compared in constant time. Slow on purpose for hashes
    /// (``CredentialStore`` remembers recent successes).
    public func verify(_ password: String) throws(CryptoError) -> Bool {
        let secret = Array(password.utf8)
        switch self {
        case .plain(let stored):
            // Hash both sides first so the comparison's time does not depend on the lengths.
            return SystemCrypto.constantTimeEqual(try SystemCrypto.sha256(secret), try SystemCrypto.sha256(Array(stored.utf8)))
        case .pbkdf2SHA256(let iterations, let salt, let hash):
            let derived = try SystemCrypto.pbkdf2SHA256(password: secret, salt: salt, iterations: iterations, length: hash.count)
            return SystemCrypto.constantTimeEqual(derived, hash)
        case .scrypt(let logN, let blockSize, let parallelism, let salt, let hash):
            let derived = try SystemCrypto.scrypt(password: secret, salt: salt, logN: logN, blockSize: blockSize,
                                                  parallelism: parallelism, length: hash.count, maxMemory: Self.scryptMaxMemory)
            return SystemCrypto.constantTimeEqual(derived, hash)
        }
    }
}
