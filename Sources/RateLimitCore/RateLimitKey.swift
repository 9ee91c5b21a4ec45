// MARK: - RateLimitKey

/// The value a zone counts requests by: the client's binary address, an API key's `app_id`, a
/// header's value. Compared as bytes, like nginx's zone keys.
///
/// An empty key means "not limited by this zone" (nginx does not account requests whose key is
/// empty), and so does a key longer than ``maximumLength`` bytes.
public struct RateLimitKey: Hashable, Sendable, CustomStringConvertible {
    /// nginx refuses to account keys longer than this (its state stores the length in 16 bits).
    public static let maximumLength = 65535
    /// Keys up to this many bytes are kept inside the state itself, without an allocation.
    public static let inlineCapacity = 16

    /// The key's bytes.
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The UTF-8 bytes of `text`.
    public init(_ text: String) {
        self.bytes = Array(text.utf8)
    }

    /// The empty key: requests carrying it are not limited.
    public static let empty = RateLimitKey([UInt8]())

    /// The 4 bytes of an IPv4 address (`a.b.c.d` → `[a, b, c, d]`), like `$binary_remote_addr`.
    public static func ipv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> RateLimitKey {
        RateLimitKey([a, b, c, d])
    }

    /// Whether a zone accounts requests with this key (neither empty nor longer than ``maximumLength``).
    public var isAccountable: Bool { !bytes.isEmpty && bytes.count <= Self.maximumLength }

    /// Printable bytes as text, others as `\xNN`, shortened past 64 bytes; for logs and test output.
    public var description: String {
        var text = ""
        for byte in bytes.prefix(64) {
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return bytes.count > 64 ? text + "…(\(bytes.count) bytes)" : text
    }
}
