// MARK: - Strings

extension JSONParser {
    /// Parses a string starting at its opening quote. Validates UTF-8, rejects raw control
    /// characters, decodes escapes (surrogate pairs must be complete).
    mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes. Validate and find the closing quote.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                index += 1
                return text
            } else if byte == UInt8(ascii: "\\") {
                var buffer = Array(bytes[start..<index])
                return try parseEscapedRemainder(into: &buffer)
            } else if byte < 0x20 {
                throw controlCharacterError(byte)
            } else if byte < 0x80 {
                index += 1
            } else {
                try skipUTF8Sequence()
            }
        }
        throw failure(.unexpectedEnd, "expected '\"' to close the string, found end of input")
    }

    /// Continues a string that contains escapes, appending decoded bytes to `buffer`.
    mutating func parseEscapedRemainder(into buffer: inout [UInt8]) throws(JSONParseError) -> String {
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: buffer, as: UTF8.self)
            } else if byte == UInt8(ascii: "\\") {
                try parseEscape(into: &buffer)
            } else if byte < 0x20 {
                throw controlCharacterError(byte)
            } else if byte < 0x80 {
                buffer.append(byte)
                index += 1
            } else {
                let sequenceStart = index
                try skipUTF8Sequence()
                buffer.append(contentsOf: bytes[sequenceStart..<index])
            }
        }
        throw failure(.unexpectedEnd, "expected '\"' to close the string, found end of input")
    }

    func controlCharacterError(_ byte: UInt8) -> JSONParseError {
        let escape: String
        switch byte {
        case UInt8(ascii: "\n"): escape = "\\n"
        case UInt8(ascii: "\t"): escape = "\\t"
        case UInt8(ascii: "\r"): escape = "\\r"
        default: escape = "\\u00" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16, uppercase: true)
        }
        return failure(.controlCharacter, "unescaped control character \(JSONParseError.describe(byte: byte)) in string (write it as \(escape))")
    }

    // MARK: Escapes

    mutating func parseEscape(into buffer: inout [UInt8]) throws(JSONParseError) {
        let escapeStart = index
        index += 1
        guard let byte = current else {
            throw failure(.unexpectedEnd, "expected an escape character after '\\', found end of input")
        }
        index += 1
        switch byte {
        case UInt8(ascii: "\""): buffer.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): buffer.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "/"): buffer.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try parseHex4()
            var scalarValue = UInt32(unit)
            if (0xD800...0xDBFF).contains(unit) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw failure(.invalidEscape, "unpaired high surrogate \\u\(hex(unit)): it must be followed by a low surrogate escape \\uDC00...\\uDFFF", at: escapeStart)
                }
                index += 2
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw failure(.invalidEscape, "high surrogate \\u\(hex(unit)) is followed by \\u\(hex(low)), which is not a low surrogate (\\uDC00...\\uDFFF)", at: escapeStart)
                }
                scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(unit) {
                throw failure(.invalidEscape, "unpaired low surrogate \\u\(hex(unit)): it must follow a high surrogate \\uD800...\\uDBFF", at: escapeStart)
            }
            appendUTF8(scalarValue, to: &buffer)
        default:
            throw failure(.invalidEscape, "invalid escape '\\\(Character(Unicode.Scalar(byte)))' in string (valid: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", at: escapeStart)
        }
    }

    /// Appends the UTF-8 encoding of a scalar value (never a surrogate, at most U+10FFFF).
    func appendUTF8(_ value: UInt32, to buffer: inout [UInt8]) {
        switch value {
        case 0..<0x80:
            buffer.append(UInt8(value))
        case 0x80..<0x800:
            buffer.append(0xC0 | UInt8(value >> 6))
            buffer.append(0x80 | UInt8(value & 0x3F))
        case 0x800..<0x10000:
            buffer.append(0xE0 | UInt8(value >> 12))
            buffer.append(0x80 | UInt8((value >> 6) & 0x3F))
            buffer.append(0x80 | UInt8(value & 0x3F))
        default:
            buffer.append(0xF0 | UInt8(value >> 18))
            buffer.append(0x80 | UInt8((value >> 12) & 0x3F))
            buffer.append(0x80 | UInt8((value >> 6) & 0x3F))
            buffer.append(0x80 | UInt8(value & 0x3F))
        }
    }

    func hex(_ unit: UInt16) -> String {
        let digits = String(unit, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard let byte = current else {
                throw failure(.unexpectedEnd, "expected 4 hex digits after \\u, found end of input")
            }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default:
                throw failure(.invalidEscape, "expected 4 hex digits after \\u, found \(JSONParseError.describe(byte: byte))")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    // MARK: UTF-8 validation

    /// Advances over one well-formed multi-byte UTF-8 sequence (Unicode table 3-7), or throws.
    mutating func skipUTF8Sequence() throws(JSONParseError) {
        let lead = bytes[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default:
            throw failure(.invalidUTF8, "invalid UTF-8: \(JSONParseError.describe(byte: lead)) cannot start a character")
        }
        for offset in 1..<length {
            let position = index + offset
            let range = offset == 1 ? secondRange : 0x80...0xBF
            guard position < bytes.count, range.contains(bytes[position]) else {
                throw failure(.invalidUTF8, "invalid UTF-8 sequence starting with \(JSONParseError.describe(byte: lead))")
            }
        }
        index += length
    }
}
