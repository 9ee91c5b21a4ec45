// MARK: - Base64

/// Standard base64 (RFC 4648 §4, with padding), as Go's `encoding/json` writes `[]byte`.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Encodes `bytes`, with `=` padding unless `padded` is false.
    public static func encode(_ bytes: [UInt8], padded: Bool = true) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var chunk: UInt32 = 0
            for offset in 0..<3 { chunk = chunk << 8 | UInt32(offset < count ? bytes[index + offset] : 0) }
            for position in 0...count { output.append(alphabet[Int(chunk >> UInt32(18 - 6 * position) & 0x3F)]) }
            if padded { for _ in count..<3 { output.append(UInt8(ascii: "=")) } }
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes base64 with or without its `=` padding; `nil` on anything else.
    public static func decodeUnpadded(_ text: String) -> [UInt8]? {
        let count = text.utf8.count
        guard count % 4 != 1 else { return nil }
        if text.utf8.contains(UInt8(ascii: "=")) { return decode(text) }
        return decode(text + String(repeating: "=", count: (4 - count % 4) % 4))
    }

    /// Decodes padded standard base64; `nil` on any invalid character, length or padding.
    public static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            var quad: [UInt8] = []
            var padding = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                if byte == UInt8(ascii: "=") {
                    // Padding only at the very end, in the last two positions.
                    guard index + 4 == input.count, offset >= 2 else { return nil }
                    padding += 1
                    quad.append(0)
                } else {
                    guard padding == 0, let value = sextet(byte) else { return nil }
                    quad.append(value)
                }
            }
            let combined = UInt32(quad[0]) << 18 | UInt32(quad[1]) << 12 | UInt32(quad[2]) << 6 | UInt32(quad[3])
            output.append(UInt8(combined >> 16))
            if padding < 2 { output.append(UInt8(combined >> 8 & 0xFF)) }
            if padding < 1 { output.append(UInt8(combined & 0xFF)) }
            index += 4
        }
        return output
    }

    static func sextet(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }
}
