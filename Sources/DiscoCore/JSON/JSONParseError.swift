// MARK: - JSONParseError

/// Why a JSON text was rejected, and where: 1-based line and column (columns count characters),
/// plus the byte offset.
///
/// `description` reads like "expected ',' or '}' after object member, found 'x' at line 3,
/// column 5". When the very first character is wrong, a hint about shell quoting is added,
/// because that is almost always how `-disco-config` values go wrong.
public struct JSONParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of error, for programmatic checks.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// Something other than what the grammar allows at this point.
        public static let unexpectedCharacter = Code(name: "unexpectedCharacter")
        /// The input ended inside a value.
        public static let unexpectedEnd = Code(name: "unexpectedEnd")
        /// Bytes after a complete top-level value.
        public static let trailingData = Code(name: "trailingData")
        /// A comma before `]` or `}`.
        public static let trailingComma = Code(name: "trailingComma")
        /// A number such as `01`, `1.`, `1e`, `-`.
        public static let invalidNumber = Code(name: "invalidNumber")
        /// A bad backslash escape or an unpaired surrogate.
        public static let invalidEscape = Code(name: "invalidEscape")
        /// A raw control character (U+0000...U+001F) inside a string.
        public static let controlCharacter = Code(name: "controlCharacter")
        /// Bytes that are not well-formed UTF-8.
        public static let invalidUTF8 = Code(name: "invalidUTF8")
        /// The same key twice in one object.
        public static let duplicateKey = Code(name: "duplicateKey")
        /// Arrays and objects nested deeper than the limit.
        public static let tooDeep = Code(name: "tooDeep")
        /// A number outside I-JSON's range, when parsing with ``JSONNumberPolicy/interoperable``.
        public static let numberOutOfRange = Code(name: "numberOutOfRange")
    }

    public let code: Code
    /// What was expected and what was found, without the position.
    public let message: String
    /// 1-based line of the error.
    public let line: Int
    /// 1-based column of the error, in characters (Unicode scalars) from the start of the line.
    public let column: Int
    /// 0-based byte offset of the error.
    public let offset: Int
    /// Advice for a likely cause when the JSON came from a command-line value (shell quoting, a
    /// file path that does not exist), or `nil`. ``description`` leaves it out: a request body or
    /// a file is not a command-line value; ``descriptionWithHint`` adds it.
    public let hint: String?

    public init(code: Code, message: String, line: Int, column: Int, offset: Int, hint: String? = nil) {
        self.code = code
        self.message = message
        self.line = line
        self.column = column
        self.offset = offset
        self.hint = hint
    }

    public var description: String { "\(message) at line \(line), column \(column)" }

    /// ``description`` followed by the ``hint``, for JSON given as a command-line value.
    public var descriptionWithHint: String {
        guard let hint else { return description }
        return "\(description) (\(hint))"
    }
}

// MARK: - Positions and hints

extension JSONParseError {
    /// Line and column (both 1-based, column in Unicode scalars) of `offset` in `bytes`.
    static func position(of offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        var index = 0
        let end = min(offset, bytes.count)
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
            index += 1
        }
        return (line, column)
    }

    /// Advice when the document is wrong at its first significant character.
    static func quotingHint(firstByte: UInt8?, next: UInt8?) -> String? {
        switch firstByte {
        case nil:
            return "the value is empty; pass a JSON object such as '{\"name\":\"rqlite.local\"}' or a path to a JSON file"
        case UInt8(ascii: "'"):
            return "the single quotes reached the program: the shell did not remove them. In a shell write "
                + "-disco-config '{\"name\":\"x\"}'; in a Kubernetes args list, Docker exec-form CMD or a "
                + "config file write the JSON itself, {\"name\":\"x\"}, without surrounding quotes"
        case UInt8(ascii: "\\"):
            return "a backslash reached the program: write the JSON without escaping, e.g. '{\"name\":\"x\"}' in a shell"
        case UInt8(ascii: "`"), 0xE2:  // backquote; 0xE2 starts the curly quotes U+2018...U+201D
            return "JSON strings use plain double quotes (\") only; backquotes and curly quotes are not JSON"
        default:
            let isLetter = firstByte.map { (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) } ?? false
            if let firstByte, isLetter, !"tfn".utf8.contains(firstByte) {  // t, f, n may be misspelt literals
                return "this is plain text, not JSON: the value must be a JSON document such as {\"name\":\"x\"}, "
                    + "or the path of an existing file"
            }
            if let next, firstByte == UInt8(ascii: "{"), next != UInt8(ascii: "\""), next != UInt8(ascii: "}") {
                return "object keys must be double-quoted; if they were, the shell removed the double quotes: "
                    + "put single quotes around the whole JSON, as in '{\"name\":\"x\"}'"
            }
            return nil
        }
    }

    /// How a byte is shown after "found": `'x'`, `end of input`, `byte 0x01`.
    static func describe(byte: UInt8?) -> String {
        guard let byte else { return "end of input" }
        switch byte {
        case UInt8(ascii: "'"): return "a single quote (')"
        case 0x21...0x7E: return "'\(Character(Unicode.Scalar(byte)))'"
        case UInt8(ascii: " "): return "a space"
        case UInt8(ascii: "\n"): return "a newline"
        case UInt8(ascii: "\t"): return "a tab"
        case UInt8(ascii: "\r"): return "a carriage return"
        default:
            let hex = String(byte, radix: 16, uppercase: true)
            return "byte 0x\(hex.count == 1 ? "0" + hex : hex)"
        }
    }
}
