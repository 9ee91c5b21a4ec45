import COpenSSL

// MARK: - SystemCrypto

/// The cryptography Disco uses, all from the system's libcrypto (OpenSSL 3): nothing here is
/// written by hand, each function is a thin call with its errors checked.
public enum SystemCrypto {
    /// `count` bytes from OpenSSL's CSPRNG (`RAND_bytes`).
    public static func randomBytes(_ count: Int) throws(CryptoError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let status = bytes.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32($0.count)) }
        guard status == 1 else { throw CryptoError.last("RAND_bytes") }
        return bytes
    }

    /// SHA-256 of `bytes` (`EVP_Digest`, with ``sha256Algorithm``).
    public static func sha256(_ bytes: [UInt8]) throws(CryptoError) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let status = bytes.withUnsafeBufferPointer { input in
            digest.withUnsafeMutableBufferPointer { output in
                EVP_Digest(input.baseAddress, input.count, output.baseAddress, &length, sha256Algorithm, nil)
            }
        }
        guard status == 1 else { throw CryptoError.last("EVP_Digest(SHA-256)") }
        return Array(digest.prefix(Int(length)))
    }

    /// HMAC-SHA256 of `bytes` under `key`.
    public static func hmacSHA256(key: [UInt8], _ bytes: [UInt8]) throws(CryptoError) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = key.withUnsafeBufferPointer { keyBuffer in
            bytes.withUnsafeBufferPointer { input in
                mac.withUnsafeMutableBufferPointer { output in
                    HMAC(EVP_sha256(), keyBuffer.baseAddress, Int32(keyBuffer.count), input.baseAddress, input.count,
                         output.baseAddress, &length)
                }
            }
        }
        guard result != nil else { throw CryptoError.last("HMAC(SHA-256)") }
        return Array(mac.prefix(Int(length)))
    }

    /// PBKDF2-HMAC-SHA256 (`PKCS5_PBKDF2_HMAC`).
    public static func pbkdf2SHA256(password: [UInt8], salt: [UInt8], iterations: Int, length: Int) throws(CryptoError) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: length)
        // A trailing NUL keeps the buffer non-empty; the length passed excludes it.
        let chars = password.map { CChar(bitPattern: $0) } + [0]
        let status = chars.withUnsafeBufferPointer { secret in
            salt.withUnsafeBufferPointer { saltBuffer in
                key.withUnsafeMutableBufferPointer { output in
                    PKCS5_PBKDF2_HMAC(secret.baseAddress, Int32(password.count), saltBuffer.baseAddress, Int32(saltBuffer.count),
                                      Int32(iterations), EVP_sha256(), Int32(output.count), output.baseAddress)
                }
            }
        }
        guard status == 1 else { throw CryptoError.last("PKCS5_PBKDF2_HMAC") }
        return key
    }

    /// scrypt with N = 2^`logN` (`EVP_PBE_scrypt`), allowing up to `maxMemory` bytes.
    public static func scrypt(password: [UInt8], salt: [UInt8], logN: Int, blockSize: Int, parallelism: Int, length: Int,
                              maxMemory: Int) throws(CryptoError) -> [UInt8] {
        var key = [UInt8](repeating: 0, count: length)
        let chars = password.map { CChar(bitPattern: $0) } + [0]
        let status = chars.withUnsafeBufferPointer { secret in
            salt.withUnsafeBufferPointer { saltBuffer in
                key.withUnsafeMutableBufferPointer { output in
                    // 1 MiB on top of 128·r·N for OpenSSL's own bookkeeping, so the documented limit holds.
                    EVP_PBE_scrypt(secret.baseAddress, password.count, saltBuffer.baseAddress, saltBuffer.count,
                                   UInt64(1) << UInt64(logN), UInt64(blockSize), UInt64(parallelism),
                                   UInt64(maxMemory) + (1 << 20), output.baseAddress, output.count)
                }
            }
        }
        guard status == 1 else { throw CryptoError.last("EVP_PBE_scrypt") }
        return key
    }

    /// Whether `a` and `b` are equal, in time that depends only on their length
    /// (`CRYPTO_memcmp`). Arrays of different lengths are unequal.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { left in
            b.withUnsafeBytes { right in CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0 }
        }
    }

    /// The OpenSSL version the process runs with, e.g. "OpenSSL 3.0.19 27 Jan 2026".
    public static var version: String { String(cString: OpenSSL_version(OPENSSL_VERSION)) }
}

// MARK: - CryptoError

/// A libcrypto call failed: the call and OpenSSL's own reason.
public struct CryptoError: Error, Sendable, Hashable, CustomStringConvertible {
    public let operation: String
    public let reason: String

    public init(operation: String, reason: String) {
        self.operation = operation
        self.reason = reason
    }

    /// The error for `operation`, with the reason from OpenSSL's error queue (which it empties).
    static func last(_ operation: String) -> CryptoError {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return CryptoError(operation: operation, reason: "failed without a reason") }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return CryptoError(operation: operation, reason: String(decoding: bytes, as: UTF8.self))
    }

    public var description: String { "\(operation) failed: \(reason)" }
}

// MARK: - Hex

extension Array where Element == UInt8 {
    /// Lowercase hexadecimal.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(count * 2)
        for byte in self {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Bytes from hexadecimal text (either case); nil on anything else.
    public init?(hex text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = bytes
    }
}
