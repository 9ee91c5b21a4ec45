// MARK: - HTTP tokens

/// RFC 9110 tokens: field names, methods, and the values of parameters such as `Forwarded`'s.
enum HTTPToken {
    /// RFC 9110 `tchar`: a digit, a letter, or one of ``!#$%&'*+-.^_`|~``. A switch the compiler
    /// turns into a few comparisons (a proxy asks for every byte of a host on every request;
    /// a table would be a global, checked for initialisation on each call).
    @inline(__always)
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }
}
