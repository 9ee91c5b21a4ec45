import DiscoCore

// MARK: - NodeKey

/// A node's own secret: 32 random bytes made at its first start and kept in its data directory.
/// The replicated member record holds only its SHA-256 (``hash``); a request that moves the
/// member to new addresses carries the secret, and any member holding the record can check it.
public struct NodeKey: Sendable, Hashable, CustomStringConvertible {
    /// The secret bytes.
    public let secret: [UInt8]

    public static let length = 32

    public init?(secret: [UInt8]) {
        guard secret.count == Self.length else { return nil }
        self.secret = secret
    }

    /// A new random key.
    public static func generate() throws(CryptoError) -> NodeKey {
        let bytes = try SystemCrypto.randomBytes(length)
        guard let key = NodeKey(secret: bytes) else { throw CryptoError(operation: "RAND_bytes", reason: "short read") }
        return key
    }

    /// The key as hexadecimal text (how it is stored and sent).
    public var hex: String { secret.hexString }

    /// Reads a key from its hexadecimal text.
    public init?(hex: String) {
        guard let bytes = [UInt8](hex: hex) else { return nil }
        self.init(secret: bytes)
    }

    /// SHA-256 of the secret: what the member record keeps.
    public func hash() throws(CryptoError) -> [UInt8] { try SystemCrypto.sha256(secret) }

    /// Whether a presented key (hexadecimal text) is the one whose SHA-256 is `hash`; the
    /// comparison is constant-time (`CRYPTO_memcmp`).
    public static func proves(_ presented: String, hash: [UInt8]) -> Bool {
        guard !hash.isEmpty, let key = NodeKey(hex: presented), let digest = try? key.hash() else { return false }
        return SystemCrypto.constantTimeEqual(digest, hash)
    }

    /// Never prints the secret.
    public var description: String { "NodeKey(…)" }
}
