// MARK: - Encoding

extension JSONValue {
    /// Compact JSON text (no insignificant whitespace), members in stored order.
    public func encoded() -> String {
        String(decoding: encodedBytes(), as: UTF8.self)
    }

    /// Compact JSON as UTF-8 bytes, ready to write to a socket or file.
    public func encodedBytes() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(64)
        encode(into: &output)
        return output
    }

    /// Appends the compact JSON encoding of this value to `output`.
    public func encode(into output: inout [UInt8]) {
        switch self {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let value):
            output.append(contentsOf: value ? "true".utf8 : "false".utf8)
        case .number(let number):
            output.append(contentsOf: number.text.utf8)
        case .string(let text):
            JSONValue.encodeString(text, into: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                element.encode(into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            output.append(UInt8(ascii: "{"))
            for (position, member) in object.members.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                JSONValue.encodeString(member.key, into: &output)
                output.append(UInt8(ascii: ":"))
                member.value.encode(into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// The same value as ``encodedBytes()``, indented for people: one member or element a line,
    /// `indent` spaces a level, `": "` after a member's name; an empty array or object stays
    /// `[]` or `{}` (what rqlite's `?pretty` answers).
    public func prettyEncodedBytes(indent: Int = 4) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        encodePretty(into: &output, indent: max(0, indent), depth: 0)
        return output
    }

    private func encodePretty(into output: inout [UInt8], indent: Int, depth: Int) {
        func newline(at level: Int) {
            output.append(0x0A)
            output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
        }
        switch self {
        case .array(let elements) where !elements.isEmpty:
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                newline(at: depth + 1)
                element.encodePretty(into: &output, indent: indent, depth: depth + 1)
            }
            newline(at: depth)
            output.append(UInt8(ascii: "]"))
        case .object(let object) where !object.members.isEmpty:
            output.append(UInt8(ascii: "{"))
            for (position, member) in object.members.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                newline(at: depth + 1)
                JSONValue.encodeString(member.key, into: &output)
                output.append(contentsOf: ": ".utf8)
                member.value.encodePretty(into: &output, indent: indent, depth: depth + 1)
            }
            newline(at: depth)
            output.append(UInt8(ascii: "}"))
        default:
            encode(into: &output)
        }
    }

    /// Appends `text` as a JSON string literal: quotes, backslashes and control characters are
    /// escaped (short forms where JSON has them, else `\u00XX`); everything else is raw UTF-8.
    public static func encodeString(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var runStart = 0
            for index in 0..<bytes.count {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                runStart = index + 1
                output.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""): output.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): output.append(UInt8(ascii: "\\"))
                case 0x08: output.append(UInt8(ascii: "b"))
                case 0x0C: output.append(UInt8(ascii: "f"))
                case 0x0A: output.append(UInt8(ascii: "n"))
                case 0x0D: output.append(UInt8(ascii: "r"))
                case 0x09: output.append(UInt8(ascii: "t"))
                default:
                    let hexDigits = Array("0123456789abcdef".utf8)
                    output.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                               hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]])
                }
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        output.append(UInt8(ascii: "\""))
    }
}
