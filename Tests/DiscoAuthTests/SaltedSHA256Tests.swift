import DiscoAuth
import DiscoCore
import Testing

// MARK: - A salted SHA-256 checked in place

/// ``SystemCrypto/sha256(of:followedBy:equals:)`` answers what hashing the concatenation and
/// comparing would: the API-key check relies on it for every key.
@Suite struct SaltedSHA256Tests {
    /// SHA-256("abc"), FIPS 180-2 appendix B.1.
    static let abc = [UInt8](hex: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") ?? []

    @Test func matchesThePublishedDigestWhereverTheSaltEnds() {
        #expect(Self.abc.count == 32)
        #expect(SystemCrypto.sha256(of: [], followedBy: "abc", equals: Self.abc))
        #expect(SystemCrypto.sha256(of: Array("a".utf8), followedBy: "bc", equals: Self.abc))
        #expect(SystemCrypto.sha256(of: Array("abc".utf8), followedBy: "", equals: Self.abc))
        #expect(!SystemCrypto.sha256(of: Array("ab".utf8), followedBy: "", equals: Self.abc))
        #expect(!SystemCrypto.sha256(of: [], followedBy: "abd", equals: Self.abc))
    }

    @Test func agreesWithHashingTheConcatenation() throws {
        let salt = try SystemCrypto.randomBytes(16)
        // ASCII, non-ASCII, and longer than any stack buffer would be.
        for key in ["k3y-of-some-length-0123456789", "clé-ünïcode-🔑", String(repeating: "x", count: 100_000)] {
            let digest = try SystemCrypto.sha256(salt + Array(key.utf8))
            #expect(SystemCrypto.sha256(of: salt, followedBy: key, equals: digest))
            var flipped = digest
            flipped[31] ^= 1
            #expect(!SystemCrypto.sha256(of: salt, followedBy: key, equals: flipped))
            #expect(!SystemCrypto.sha256(of: salt, followedBy: key + "x", equals: digest))
        }
    }

    @Test func anExpectedValueOfAnotherLengthNeverMatches() throws {
        let digest = try SystemCrypto.sha256(Array("abc".utf8))
        #expect(!SystemCrypto.sha256(of: [], followedBy: "abc", equals: Array(digest.prefix(31))))
        #expect(!SystemCrypto.sha256(of: [], followedBy: "abc", equals: digest + [0]))
        #expect(!SystemCrypto.sha256(of: [], followedBy: "abc", equals: []))
    }
}
