// MARK: - JSONNumber

/// A JSON number, kept as its literal text so that nothing is lost: `18446744073709551615`,
/// `-0` and `1.0e+300` all print back exactly as they were read.
///
/// Equality compares the text: `1` and `1.0` are different numbers here, as they are different
/// documents. Use the typed accessors to compare numerically.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number as written in JSON (always valid RFC 8259 number syntax).
    public let text: String

    /// Wraps text already known to be a valid JSON number (the parser's path).
    init(validatedText: String) { text = validatedText }

    /// Creates a number from its JSON text, or `nil` if `text` is not valid JSON number syntax.
    public init?(text: String) {
        guard JSONNumber.isValidSyntax(Array(text.utf8)) else { return nil }
        self.text = text
    }

    public init(_ value: Int64) { text = String(value) }
    public init(_ value: Int) { text = String(value) }
    public init(_ value: UInt64) { text = String(value) }

    /// Creates a number from a finite double (shortest text that reads back the same);
    /// `nil` for NaN and infinities, which JSON cannot express.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        if value == value.rounded(.towardZero), abs(value) < 1e15 {
            // Integral values print without ".0" so they stay integers for readers.
            text = value == 0 && value.sign == .minus ? "-0" : String(Int64(value))
        } else {
            text = "\(value)"
        }
    }

    public var description: String { text }

    /// Whether the literal is a plain integer (no fraction, no exponent).
    public var isInteger: Bool {
        !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") })
    }

    /// The value as a signed 64-bit integer, if the literal is a plain integer in range.
    public var int64Value: Int64? { isInteger ? Int64(text) : nil }

    /// The value as `Int`, if the literal is a plain integer in range.
    public var intValue: Int? { isInteger ? Int(text) : nil }

    /// The value as an unsigned 64-bit integer, if the literal is a plain non-negative integer in range.
    public var uint64Value: UInt64? { isInteger && text != "-0" ? UInt64(text) : nil }

    /// The value as a double (nearest representable), or `nil` if it overflows to infinity.
    public var doubleValue: Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// Why an I-JSON reader (RFC 7493 §2.2) could not hold this number exactly: an integer
    /// literal beyond ±(2^53−1), or a number that overflows a double. `nil` when it is fine.
    public var interoperabilityProblem: String? {
        if isInteger {
            let digits = text.hasPrefix("-") ? text.utf8.dropFirst() : text.utf8[...]
            let limit = Self.largestExactInteger.utf8
            guard digits.count > limit.count || (digits.count == limit.count && digits.lexicographicallyPrecedes(limit) == false
                                                 && !digits.elementsEqual(limit)) else { return nil }
            return "the integer \(text) is beyond what a double holds exactly; I-JSON (RFC 7493) takes integers from "
                + "-\(Self.largestExactInteger) to \(Self.largestExactInteger): send larger ones as strings"
        }
        guard doubleValue == nil else { return nil }
        return "the number \(text.count > 40 ? text.prefix(40) + "…" : text) is too large for a double; I-JSON (RFC 7493) "
            + "takes finite doubles (magnitude below about 1.8e308): send larger ones as strings"
    }

    /// 2^53 − 1, the largest integer below which every integer is a double.
    static let largestExactInteger = "9007199254740991"

    /// Checks RFC 8259 number syntax: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    static func isValidSyntax(_ bytes: [UInt8]) -> Bool {
        var index = 0
        func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { return false }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if digits() == 0 {
            return false
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return false }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return false }
        }
        return index == bytes.count
    }
}

// MARK: - Number policy

/// Which numbers a parse accepts.
public enum JSONNumberPolicy: Sendable, Hashable {
    /// Every RFC 8259 number, kept as its text (nothing is lost, however large).
    case any
    /// I-JSON (RFC 7493 §2.2): numbers every reader holds exactly as an IEEE 754 double —
    /// finite, and integer literals from -(2^53−1) to 2^53−1. Anything else is refused with
    /// ``JSONParseError/Code/numberOutOfRange`` at the number's position.
    case interoperable
}
