// MARK: - Go value syntax for flags

/// The value syntax of Go's `strconv` as used by the `flag` package.
public enum GoValueParsing {
    /// Go's `strconv.ParseBool`: `1 t T TRUE true True` and `0 f F FALSE false False`.
    public static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": true
        case "0", "f", "F", "FALSE", "false", "False": false
        default: nil
        }
    }

    /// Go's `strconv.ParseInt(text, 0, 64)`: optional sign, base prefixes `0x`, `0o`, `0b`,
    /// a leading `0` meaning octal, and `_` between digits.
    public static func parseInt(_ text: String) -> Result<Int64, FlagValueError> {
        var body = Substring(text)
        var negative = false
        if let first = body.first, first == "+" || first == "-" {
            negative = first == "-"
            body = body.dropFirst()
        }
        switch parseUnsignedBody(body, original: text) {
        case .failure(let error):
            return .failure(error)
        case .success(let magnitude):
            if negative {
                guard magnitude <= UInt64(Int64.max) + 1 else { return .failure(outOfRange(text)) }
                return .success(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
            }
            guard magnitude <= UInt64(Int64.max) else { return .failure(outOfRange(text)) }
            return .success(Int64(magnitude))
        }
    }

    /// Go's `strconv.ParseUint(text, 0, 64)`: like ``parseInt(_:)`` without a sign.
    public static func parseUInt(_ text: String) -> Result<UInt64, FlagValueError> {
        if text.hasPrefix("-") {
            return .failure(FlagValueError("expected a non-negative integer"))
        }
        return parseUnsignedBody(Substring(text), original: text)
    }

    static func outOfRange(_ text: String) -> FlagValueError {
        FlagValueError("integer out of range")
    }

    static func parseUnsignedBody(_ body: Substring, original: String) -> Result<UInt64, FlagValueError> {
        let syntax = FlagValueError("expected an integer")
        guard !body.isEmpty else { return .failure(syntax) }
        var digits = body
        var radix: UInt64 = 10
        let lower = body.lowercased()
        if lower.hasPrefix("0x") {
            radix = 16
            digits = body.dropFirst(2)
        } else if lower.hasPrefix("0o") {
            radix = 8
            digits = body.dropFirst(2)
        } else if lower.hasPrefix("0b") {
            radix = 2
            digits = body.dropFirst(2)
        } else if body.count > 1, body.hasPrefix("0") {
            radix = 8
            digits = body.dropFirst()
        }
        guard underscoresAreSeparators(body) else { return .failure(syntax) }
        var value: UInt64 = 0
        var sawDigit = false
        for character in digits where character != "_" {
            guard let digit = character.hexDigitValue, UInt64(digit) < radix else { return .failure(syntax) }
            sawDigit = true
            let (product, overflow1) = value.multipliedReportingOverflow(by: radix)
            let (sum, overflow2) = product.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return .failure(outOfRange(original)) }
            value = sum
        }
        guard sawDigit else { return .failure(syntax) }
        return .success(value)
    }

    /// Go's rule: `_` may only appear between digits, or between a base prefix and a digit.
    static func underscoresAreSeparators(_ body: Substring) -> Bool {
        guard body.contains("_") else { return true }
        var characters = Array(body.lowercased())
        var previous: Character = "^"  // start
        if characters.count >= 2, characters[0] == "0", "xob".contains(characters[1]) {
            characters.removeFirst(2)
            previous = "0"  // a base prefix counts as a digit
        }
        for character in characters {
            if character.isHexDigit {
                previous = "0"
            } else if character == "_" {
                guard previous == "0" else { return false }
                previous = "_"
            } else {
                guard previous != "_" else { return false }
                previous = "!"
            }
        }
        return previous != "_"
    }
}

// MARK: - FlagValueError

/// Thrown by a flag's value parser: says why the text is not a valid value, and what would be.
/// ``FlagSet`` turns it into a ``FlagError`` naming the flag and the value.
public struct FlagValueError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}
