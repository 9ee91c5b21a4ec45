import COpenSSL
import Synchronization

// MARK: - AES-256-GCM

/// AES-256-GCM through OpenSSL's EVP interface: authenticated encryption with associated data.
/// Nothing here is hand-written cryptography; this type only moves bytes in and out of libcrypto.
///
/// Sealed output is the ciphertext (as long as the plaintext) followed by the 16-byte tag.
/// Opening checks the tag over the ciphertext and the associated data before returning anything.
enum AES256GCM {
    /// The cipher, fetched from the default provider once: the legacy `EVP_aes_256_gcm()`
    /// makes OpenSSL 3 look the implementation up again on every init.
    static let cipher = FetchedCipher()

    static let keyByteCount = 32
    static let nonceByteCount = 12
    static let tagByteCount = 16
    /// Largest input one call takes (OpenSSL counts lengths in `Int32`).
    static let maxInputByteCount = Int(Int32.max) - tagByteCount

    /// Encrypts `plaintext` into `output`, which must hold `plaintext.count + tagByteCount` bytes.
    static func seal(_ plaintext: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                     associatedData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(CryptoError) {
        precondition(key.count == keyByteCount && nonce.count == nonceByteCount, "AES-256-GCM needs a 32-byte key and a 12-byte nonce")
        precondition(output.count == plaintext.count + tagByteCount, "sealed output must be the plaintext's length plus the tag")
        guard plaintext.count <= maxInputByteCount, associatedData.count <= maxInputByteCount else {
            throw CryptoError("AES-256-GCM input of \(plaintext.count) bytes is larger than OpenSSL takes in one call")
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError.fromOpenSSL("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_EncryptInit_ex(context, cipher.pointer, nil, bytes(key), bytes(nonce)) == 1 else {
            throw CryptoError.fromOpenSSL("EVP_EncryptInit_ex")
        }
        var written: Int32 = 0
        if associatedData.count > 0 {
            guard EVP_EncryptUpdate(context, nil, &written, bytes(associatedData), Int32(associatedData.count)) == 1 else {
                throw CryptoError.fromOpenSSL("EVP_EncryptUpdate (associated data)")
            }
        }
        guard let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw CryptoError("AES-256-GCM output buffer has no storage")
        }
        var total = 0
        if plaintext.count > 0 {
            guard EVP_EncryptUpdate(context, out, &written, bytes(plaintext), Int32(plaintext.count)) == 1 else {
                throw CryptoError.fromOpenSSL("EVP_EncryptUpdate")
            }
            total = Int(written)
        }
        guard EVP_EncryptFinal_ex(context, out + total, &written) == 1 else { throw CryptoError.fromOpenSSL("EVP_EncryptFinal_ex") }
        total += Int(written)
        guard total == plaintext.count else {
            throw CryptoError("AES-256-GCM produced \(total) bytes of ciphertext for \(plaintext.count) of plaintext")
        }
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(tagByteCount), out + total) == 1 else {
            throw CryptoError.fromOpenSSL("EVP_CIPHER_CTX_ctrl (get tag)")
        }
    }

    /// Encrypts `plaintext` and appends ciphertext and tag to `output`.
    static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8],
                     appendingTo output: inout [UInt8]) throws(CryptoError) {
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: plaintext.count + tagByteCount))
        let failure: CryptoError? = plaintext.withUnsafeBytes { input in
            key.withUnsafeBytes { keyBytes in
                nonce.withUnsafeBytes { nonceBytes in
                    associatedData.withUnsafeBytes { aad in
                        output.withUnsafeMutableBytes { out in
                            do throws(CryptoError) {
                                try seal(input, key: keyBytes, nonce: nonceBytes, associatedData: aad,
                                         into: UnsafeMutableRawBufferPointer(rebasing: out[start...]))
                                return nil
                            } catch {
                                return error
                            }
                        }
                    }
                }
            }
        }
        if let failure {
            output.removeSubrange(start...)
            throw failure
        }
    }

    /// Decrypts `sealed` (ciphertext and tag) into `output`, which must hold
    /// `sealed.count - tagByteCount` bytes. Returns false, leaving `output` meaningless, when the
    /// tag does not match: another key, other associated data, or any changed byte.
    static func open(_ sealed: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
                     associatedData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        precondition(key.count == keyByteCount && nonce.count == nonceByteCount, "AES-256-GCM needs a 32-byte key and a 12-byte nonce")
        guard sealed.count >= tagByteCount, output.count == sealed.count - tagByteCount,
              sealed.count <= maxInputByteCount, associatedData.count <= maxInputByteCount
        else { return false }
        guard let context = EVP_CIPHER_CTX_new() else { return false }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_DecryptInit_ex(context, cipher.pointer, nil, bytes(key), bytes(nonce)) == 1 else { return false }
        var written: Int32 = 0
        if associatedData.count > 0 {
            guard EVP_DecryptUpdate(context, nil, &written, bytes(associatedData), Int32(associatedData.count)) == 1 else { return false }
        }
        let ciphertextCount = sealed.count - tagByteCount
        var total = 0
        if ciphertextCount > 0 {
            guard let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
            guard EVP_DecryptUpdate(context, out, &written, bytes(sealed), Int32(ciphertextCount)) == 1 else { return false }
            total = Int(written)
        }
        // OpenSSL takes the expected tag through a non-const pointer but only reads it.
        var tag = [UInt8](sealed[ciphertextCount...])
        let tagSet = tag.withUnsafeMutableBytes { raw in
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(tagByteCount), raw.baseAddress) == 1
        }
        guard tagSet else { return false }
        var scratch = [UInt8](repeating: 0, count: 16)
        let verified = scratch.withUnsafeMutableBufferPointer { buffer in
            EVP_DecryptFinal_ex(context, buffer.baseAddress, &written) > 0
        }
        return verified && total == ciphertextCount
    }

    /// A typed view of raw bytes for OpenSSL (nil for an empty buffer, which is then not read).
    private static func bytes(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
        buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
    }
}

/// AES-256-GCM as fetched from OpenSSL's default provider, or the legacy table entry when the
/// fetch fails.
///
/// `@unchecked Sendable`: the pointer is set once in `init` and never changed; OpenSSL documents
/// a fetched `EVP_CIPHER` as immutable and safe to use from any number of threads at once (it
/// is reference-counted and only read by `EVP_*Init_ex`), and it is never freed (one per process).
final class FetchedCipher: @unchecked Sendable {
    let pointer: OpaquePointer

    init() {
        pointer = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil) ?? EVP_aes_256_gcm()
    }
}

// MARK: - Nonces

/// The nonces of one sealer: a random 96-bit base, XORed with a per-sealer counter (the
/// construction TLS 1.3 uses for its record nonces). Every nonce of a sequence differs from the
/// others; two sequences under one key share a nonce only if their random bases fall within
/// 2^64 of each other, a chance of about 2^-32 per pair even at 2^64 messages each. It saves a
/// `RAND_bytes` per message.
final class NonceSequence: Sendable {
    private let base: [UInt8]
    private let counter = Atomic<UInt64>(0)

    init() throws(CryptoError) {
        base = try SecureRandom.bytes(AES256GCM.nonceByteCount)
    }

    /// The next nonce.
    func next() -> [UInt8] {
        let count = counter.add(1, ordering: .relaxed).newValue
        var nonce = base
        for index in 0..<8 { nonce[4 + index] ^= UInt8(truncatingIfNeeded: count >> (56 - 8 * UInt64(index))) }
        return nonce
    }
}

// MARK: - Random bytes and digests

/// Cryptographically secure random bytes from OpenSSL's `RAND_bytes`.
enum SecureRandom {
    /// `count` random bytes.
    static func bytes(_ count: Int) throws(CryptoError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return bytes }
        let ok = bytes.withUnsafeMutableBufferPointer { buffer in RAND_bytes(buffer.baseAddress, Int32(buffer.count)) == 1 }
        guard ok else { throw CryptoError.fromOpenSSL("RAND_bytes") }
        return bytes
    }
}

/// SHA-256 through OpenSSL's `EVP_Digest`.
enum SHA256Digest {
    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { input in
            digest.withUnsafeMutableBufferPointer { output in
                EVP_Digest(input.baseAddress, input.count, output.baseAddress, &length, EVP_sha256(), nil) == 1
            }
        }
        // SHA-256 of memory held by this process cannot fail short of OpenSSL being unusable.
        precondition(ok && length == 32, "EVP_Digest(SHA-256) failed: \(CryptoError.fromOpenSSL("EVP_Digest"))")
        return digest
    }
}

// MARK: - Errors

/// A failure inside OpenSSL (never a failed authentication, which is an ordinary result).
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }

    /// An error naming `function` and OpenSSL's queued reason; clears the queue.
    static func fromOpenSSL(_ function: String) -> CryptoError {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return CryptoError("\(function) failed" + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; ")))
    }
}
