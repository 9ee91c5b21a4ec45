// MARK: - Parsing entry points

extension JSONValue {
    /// The default limit on nesting of arrays and objects.
    public static let defaultMaxDepth = 512

    /// Parses a complete JSON text (RFC 8259, strict): one value, optional surrounding whitespace,
    /// and a leading UTF-8 byte order mark is ignored. `numbers` may narrow the numbers accepted
    /// to I-JSON's (``JSONNumberPolicy/interoperable``).
    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth,
                             numbers: JSONNumberPolicy = .any) throws(JSONParseError) -> JSONValue {
        var text = text
        let result = text.withUTF8 { buffer in
            Result(catching: { () throws(JSONParseError) -> JSONValue in try parse(buffer, maxDepth: maxDepth, numbers: numbers) })
        }
        return try result.get()
    }

    /// Parses a complete JSON text from bytes.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth,
                             numbers: JSONNumberPolicy = .any) throws(JSONParseError) -> JSONValue {
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result(catching: { () throws(JSONParseError) -> JSONValue in try parse(buffer, maxDepth: maxDepth, numbers: numbers) })
        }
        return try result.get()
    }

    /// Parses a complete JSON text from raw memory (no copy of the input is made).
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth,
                             numbers: JSONNumberPolicy = .any) throws(JSONParseError) -> JSONValue {
        try parse(bytes.assumingMemoryBound(to: UInt8.self), maxDepth: maxDepth, numbers: numbers)
    }

    /// Parses a complete JSON text from a byte buffer (no copy of the input is made).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth,
                             numbers: JSONNumberPolicy = .any) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth, numbers: numbers)
        return try parser.parseDocument()
    }
}

// MARK: - JSONParser

/// A recursive-descent parser over UTF-8 bytes. Each error names what was expected.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    let numbers: JSONNumberPolicy
    var index = 0
    var depth = 0
    /// Offset of the first significant byte, for the shell-quoting hint.
    var documentStart = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int, numbers: JSONNumberPolicy = .any) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.numbers = numbers
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
        skipWhitespace()
        documentStart = index
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else {
            throw failure(.trailingData, "expected end of input after the JSON value, found \(JSONParseError.describe(byte: current))")
        }
        return value
    }

    // MARK: Helpers

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    func failure(_ code: JSONParseError.Code, _ message: String, at offset: Int? = nil) -> JSONParseError {
        let offset = offset ?? index
        let (line, column) = JSONParseError.position(of: offset, in: bytes)
        var hint: String?
        if offset <= documentStart + 1, code != .tooDeep {
            let first = documentStart < bytes.count ? bytes[documentStart] : nil
            let next = documentStart + 1 < bytes.count ? bytes[documentStart + 1] : nil
            hint = JSONParseError.quotingHint(firstByte: first, next: next)
        }
        return JSONParseError(code: code, message: message, line: line, column: column, offset: offset, hint: hint)
    }

    func unexpected(expected: String) -> JSONParseError {
        let code: JSONParseError.Code = current == nil ? .unexpectedEnd : .unexpectedCharacter
        return failure(code, "expected \(expected), found \(JSONParseError.describe(byte: current))")
    }

    // MARK: Values

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard let byte = current else { throw unexpected(expected: "a JSON value") }
        switch byte {
        case UInt8(ascii: "{"): return .object(try parseObject())
        case UInt8(ascii: "["): return .array(try parseArray())
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default:
            throw unexpected(expected: "a JSON value (object, array, string, number, true, false or null)")
        }
    }

    mutating func parseLiteral(_ word: StaticString) throws(JSONParseError) {
        let start = index
        let count = word.utf8CodeUnitCount
        let wordBytes = UnsafeBufferPointer(start: word.utf8Start, count: count)
        for offset in 0..<count {
            guard index < bytes.count, bytes[index] == wordBytes[offset] else {
                let found = JSONParseError.describe(byte: current)
                throw failure(current == nil ? .unexpectedEnd : .unexpectedCharacter,
                              "expected '\(word)' (JSON literals are lower-case), found \(found)", at: start)
            }
            index += 1
        }
    }

    /// Consumes the opening bracket at `index`, counting the depth.
    mutating func enterContainer() throws(JSONParseError) {
        depth += 1
        guard depth <= maxDepth else {
            throw failure(.tooDeep, "arrays and objects nested deeper than \(maxDepth) levels")
        }
        index += 1
        skipWhitespace()
    }

    /// Consumes `close` and returns true when it is next (the container ends), else false.
    mutating func leaveContainer(at close: UInt8) -> Bool {
        guard current == close else { return false }
        index += 1
        depth -= 1
        return true
    }

    /// After an element: consumes `,` (refusing a trailing comma before `close`) and returns
    /// false, or consumes `close` and returns true. `next` and `element` name the parts in errors.
    mutating func afterElement(close: UInt8, next: String, element: String) throws(JSONParseError) -> Bool {
        skipWhitespace()
        if leaveContainer(at: close) { return true }
        guard current == UInt8(ascii: ",") else {
            throw unexpected(expected: "',' or '\(Character(Unicode.Scalar(close)))' after \(element)")
        }
        let comma = index
        index += 1
        skipWhitespace()
        if current == close {
            throw failure(.trailingComma, "expected \(next) after ',', found '\(Character(Unicode.Scalar(close)))' (trailing commas are not allowed)", at: comma)
        }
        return false
    }

    mutating func parseArray() throws(JSONParseError) -> [JSONValue] {
        try enterContainer()
        var elements: [JSONValue] = []
        if leaveContainer(at: UInt8(ascii: "]")) { return elements }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            if try afterElement(close: UInt8(ascii: "]"), next: "an array element", element: "array element") { return elements }
        }
    }

    mutating func parseObject() throws(JSONParseError) -> JSONObject {
        try enterContainer()
        var members: [JSONObject.Member] = []
        var seen = Set<String>()
        if leaveContainer(at: UInt8(ascii: "}")) { return JSONObject(uncheckedMembers: members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else {
                throw unexpected(expected: "a double-quoted object key")
            }
            let keyStart = index
            let key = try parseString()
            let isDuplicate: Bool
            if members.count < 16 {
                isDuplicate = members.contains(where: { $0.key == key })
                if members.count == 15 { seen = Set(members.map(\.key) + [key]) }
            } else {
                isDuplicate = !seen.insert(key).inserted
            }
            if isDuplicate {
                throw failure(.duplicateKey, "duplicate key \(JSONValue.string(key).errorDescription) in object", at: keyStart)
            }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else {
                throw unexpected(expected: "':' after object key \(JSONValue.string(key).errorDescription)")
            }
            index += 1
            skipWhitespace()
            let value = try parseValue()
            members.append(JSONObject.Member(key: key, value: value))
            if try afterElement(close: UInt8(ascii: "}"), next: "an object key", element: "object member") {
                return JSONObject(uncheckedMembers: members)
            }
        }
    }

    // MARK: Numbers

    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = index
        func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        if current == UInt8(ascii: "-") {
            index += 1
            guard isDigit(current) else {
                throw failure(current == nil ? .unexpectedEnd : .invalidNumber,
                              "expected a digit after '-', found \(JSONParseError.describe(byte: current))")
            }
        }
        if current == UInt8(ascii: "0") {
            index += 1
            if isDigit(current) {
                throw failure(.invalidNumber, "leading zeros are not allowed in numbers", at: index - 1)
            }
        } else {
            while isDigit(current) { index += 1 }
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard isDigit(current) else {
                throw failure(.invalidNumber, "expected a digit after the decimal point, found \(JSONParseError.describe(byte: current))")
            }
            while isDigit(current) { index += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard isDigit(current) else {
                throw failure(.invalidNumber, "expected a digit in the exponent, found \(JSONParseError.describe(byte: current))")
            }
            while isDigit(current) { index += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        let number = JSONNumber(validatedText: text)
        if numbers == .interoperable, let problem = number.interoperabilityProblem {
            throw failure(.numberOutOfRange, problem, at: start)
        }
        return number
    }
}
