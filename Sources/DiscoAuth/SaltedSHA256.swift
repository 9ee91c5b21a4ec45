import COpenSSL
import DiscoCore

// MARK: - A salted SHA-256 checked without allocating

extension SystemCrypto {
    /// Whether the SHA-256 of `salt` followed by the UTF-8 bytes of `text` is `expected`,
    /// compared in constant time (`CRYPTO_memcmp`); false when `expected` is not 32 bytes long
    /// or libcrypto fails. This is an API-key check, run for every request that needs a key: the
    /// salted message is assembled in a temporary buffer (on the stack at the sizes of keys) and
    /// the digest stays on the stack, so nothing is allocated on the Swift heap, as
    /// `sha256(salt + Array(text.utf8))` compared with ``constantTimeEqual(_:_:)`` would (the
    /// text's bytes, the message, the digest and its copy); and SHA-256 is the one fetched once
    /// per process (``sha256Algorithm``).
    public static func sha256(of salt: [UInt8], followedBy text: String, equals expected: [UInt8]) -> Bool {
        let digestLength = Int(SHA256_DIGEST_LENGTH)
        guard expected.count == digestLength else { return false }
        return text.withBorrowedUTF8 { textBytes in
            let length = salt.count + textBytes.count
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(length, 1)) { message in
                salt.withUnsafeBufferPointer { saltBytes in
                    for index in 0..<saltBytes.count { message[index] = saltBytes[index] }
                }
                for index in 0..<textBytes.count { message[salt.count + index] = textBytes[index] }
                return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Int(EVP_MAX_MD_SIZE)) { digest in
                    var size: UInt32 = 0
                    guard EVP_Digest(message.baseAddress, length, digest.baseAddress, &size, sha256Algorithm, nil) == 1,
                          Int(size) == digestLength else {
                        ERR_clear_error()
                        return false
                    }
                    return expected.withUnsafeBytes { CRYPTO_memcmp(digest.baseAddress, $0.baseAddress, digestLength) == 0 }
                }
            }
        }
    }

    /// SHA-256 as libcrypto's one-shot digests take it: fetched from the default provider once
    /// per process (`EVP_MD_fetch`), which OpenSSL 3 advises for an algorithm used many times
    /// (crypto(7), "Explicit fetching"): `EVP_sha256()` makes each call fetch it again (a lookup
    /// under the library's locks). `EVP_sha256()` when that fetch failed.
    static var sha256Algorithm: OpaquePointer? { FetchedDigest.sha256.algorithm ?? EVP_sha256() }
}

/// A digest fetched from libcrypto's default provider, kept for the life of the process.
private final class FetchedDigest: @unchecked Sendable {
    // @unchecked Sendable: `algorithm` is set once in `init` and never changed or freed; a
    // fetched EVP_MD is immutable, reference-counted atomically, and made to be shared by
    // threads (OpenSSL 3's crypto(7): fetched algorithm objects may be used concurrently).
    let algorithm: OpaquePointer?

    init(_ name: String) {
        algorithm = EVP_MD_fetch(nil, name, nil)
        if algorithm == nil { ERR_clear_error() }
    }

    static let sha256 = FetchedDigest("SHA256")
}
