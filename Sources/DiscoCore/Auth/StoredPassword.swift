// MARK: - StoredPassword

/// A password as the `-auth` file stores it: as written, or as a salted hash from the system's
/// libcrypto (verified by `DiscoAuth`).
///
/// Hashes use the PHC string format with standard base64 (padding optional):
///
///     $pbkdf2-sha256$i=<iterations>$<salt>$<hash>          PBKDF2-HMAC-SHA256
///     $scrypt$ln=<log2 N>,r=<block size>,p=<parallelism>$<salt>$<hash>
///
/// `discoctl hash-password` writes them. A password that starts with `$pbkdf2-sha256$` or
/// `$scrypt$` is always read as a hash.
public enum StoredPassword: Sendable, Hashable {
    case plain(String)
    case pbkdf2SHA256(iterations: Int, salt: [UInt8], hash: [UInt8])
    case scrypt(logN: Int, blockSize: Int, parallelism: Int, salt: [UInt8], hash: [UInt8])

    // MARK: Limits

    /// PBKDF2 iterations accepted (OWASP suggests 600,000 for SHA-256).
    public static let pbkdf2Iterations: ClosedRange<Int> = 1_000...10_000_000
    /// scrypt memory (128 · r · N bytes) accepted: at most 256 MiB.
    public static let scryptMaxMemory = 256 << 20
    public static let saltBytes: ClosedRange<Int> = 8...64
    public static let hashBytes: ClosedRange<Int> = 16...64

    /// Whether this is a hash (the password itself cannot be recovered from it).
    public var isHashed: Bool {
        if case .plain = self { return false }
        return true
    }

    /// The scheme name, for messages.
    public var scheme: String {
        switch self {
        case .plain: "plain"
        case .pbkdf2SHA256: "pbkdf2-sha256"
        case .scrypt: "scrypt"
        }
    }

    // MARK: Text form

    /// Reads a stored password; throws a message saying what is wrong and what would be right.
    public init(parsing text: String) throws(StoredPasswordError) {
        if text.hasPrefix("$pbkdf2-sha256$") {
            self = try Self.parsePBKDF2(text)
        } else if text.hasPrefix("$scrypt$") {
            self = try Self.parseScrypt(text)
        } else {
            self = .plain(text)
        }
    }

    /// The PHC string, or the plain password as written.
    public var text: String {
        switch self {
        case .plain(let password):
            return password
        case .pbkdf2SHA256(let iterations, let salt, let hash):
            return "$pbkdf2-sha256$i=\(iterations)$\(Base64.encode(salt, padded: false))$\(Base64.encode(hash, padded: false))"
        case .scrypt(let logN, let blockSize, let parallelism, let salt, let hash):
            return "$scrypt$ln=\(logN),r=\(blockSize),p=\(parallelism)$\(Base64.encode(salt, padded: false))$\(Base64.encode(hash, padded: false))"
        }
    }

    private static func parts(_ text: String, scheme: String, example: String) throws(StoredPasswordError) -> (params: [String: Int], salt: [UInt8], hash: [UInt8]) {
        let pieces = text.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        // "", scheme, params, salt, hash
        guard pieces.count == 5, pieces[0].isEmpty, pieces[1] == scheme else {
            throw StoredPasswordError("a \(scheme) hash has four $-separated parts, like \(example)")
        }
        var params: [String: Int] = [:]
        for item in pieces[2].split(separator: ",", omittingEmptySubsequences: false) {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, let value = Int(pair[1]), value > 0, params[String(pair[0])] == nil else {
                throw StoredPasswordError("parameter \(String(item).debugDescription) of the \(scheme) hash is not name=<positive integer>; expected a hash like \(example)")
            }
            params[String(pair[0])] = value
        }
        guard let salt = Base64.decodeUnpadded(pieces[3]), saltBytes.contains(salt.count) else {
            throw StoredPasswordError("the salt of the \(scheme) hash must be base64 of \(saltBytes.lowerBound) to \(saltBytes.upperBound) bytes")
        }
        guard let hash = Base64.decodeUnpadded(pieces[4]), hashBytes.contains(hash.count) else {
            throw StoredPasswordError("the hash value of the \(scheme) hash must be base64 of \(hashBytes.lowerBound) to \(hashBytes.upperBound) bytes")
        }
        return (params, salt, hash)
    }

    private static func parsePBKDF2(_ text: String) throws(StoredPasswordError) -> StoredPassword {
        let example = "$pbkdf2-sha256$i=600000$<salt>$<hash> (made by discoctl hash-password)"
        let (params, salt, hash) = try parts(text, scheme: "pbkdf2-sha256", example: example)
        guard params.count == 1, let iterations = params["i"] else {
            throw StoredPasswordError("a pbkdf2-sha256 hash takes one parameter, i=<iterations>, like \(example)")
        }
        guard pbkdf2Iterations.contains(iterations) else {
            throw StoredPasswordError("pbkdf2-sha256 iterations must be \(pbkdf2Iterations.lowerBound) to \(pbkdf2Iterations.upperBound), found \(iterations)")
        }
        return .pbkdf2SHA256(iterations: iterations, salt: salt, hash: hash)
    }

    private static func parseScrypt(_ text: String) throws(StoredPasswordError) -> StoredPassword {
        let example = "$scrypt$ln=15,r=8,p=1$<salt>$<hash> (made by discoctl hash-password -scheme scrypt)"
        let (params, salt, hash) = try parts(text, scheme: "scrypt", example: example)
        guard params.count == 3, let logN = params["ln"], let blockSize = params["r"], let parallelism = params["p"] else {
            throw StoredPasswordError("a scrypt hash takes the parameters ln, r and p, like \(example)")
        }
        guard (1...24).contains(logN), (1...64).contains(blockSize), (1...16).contains(parallelism) else {
            throw StoredPasswordError("scrypt parameters must be ln 1 to 24, r 1 to 64 and p 1 to 16, found ln=\(logN), r=\(blockSize), p=\(parallelism)")
        }
        let memory = 128 * blockSize << logN
        guard memory <= scryptMaxMemory else {
            throw StoredPasswordError("scrypt with ln=\(logN), r=\(blockSize) needs \(memory >> 20) MiB per check; at most \(scryptMaxMemory >> 20) MiB is allowed (lower ln or r)")
        }
        return .scrypt(logN: logN, blockSize: blockSize, parallelism: parallelism, salt: salt, hash: hash)
    }
}

/// Why a stored password hash cannot be read.
public struct StoredPasswordError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
