// MARK: - Environment expansion

/// `$VAR` and `${VAR}` expansion with the syntax of Go's `os.ExpandEnv`, which rqlite applies to
/// `-disco-config`:
///
/// - `$NAME` takes the longest run of letters, digits and `_`; `${NAME}` takes everything up to `}`.
/// - One-character shell specials after `$` (`$$`, `$1`, `$@`, `$*`, `$#`, `$!`, `$?`, `$-`) are
///   looked up as variables of that name. There is no escape for `$`.
/// - A `$` followed by anything else (`$.`, `$ `, or the end) is kept as is.
///
/// ``expand(_:lookup:)`` follows Go exactly: unset variables expand to the empty string, `${}`
/// is removed, and an unterminated `${` loses its `${`. ``expandRequiringSet(_:lookup:)`` (what
/// Disco uses) refuses those instead, naming the variable, so a typo or a missing export is
/// an error rather than an empty value.
public enum EnvironmentExpansion {
    /// Expands `text` as Go's `os.Expand` does, looking variables up with `lookup` (`nil` means unset).
    public static func expand(_ text: String, lookup: (String) -> String?) -> String {
        expand(text) { (reference: Reference) throws(Never) -> String in
            reference.name.flatMap(lookup) ?? ""
        }
    }

    /// Expands `text`, refusing a variable that is not set (an empty value is fine) and the
    /// malformed `${}` and unterminated `${`.
    public static func expandRequiringSet(_ text: String, lookup: (String) -> String?) throws(EnvironmentExpansionError) -> String {
        try expand(text) { (reference: Reference) throws(EnvironmentExpansionError) -> String in
            guard let name = reference.name else {
                throw EnvironmentExpansionError(variable: nil, offset: reference.offset, message: reference.written == "${}"
                    ? "${} at byte \(reference.offset) names no variable"
                    : "${ at byte \(reference.offset) has no closing }")
            }
            guard let value = lookup(name) else {
                var message = "\(reference.written) is not set"
                if name.utf8.count == 1, let byte = name.utf8.first, isShellSpecial(byte) {
                    message += "; $ cannot be escaped here: to write a literal $, set a variable to it (DOLLAR='$') "
                        + "and write ${DOLLAR}"
                }
                throw EnvironmentExpansionError(variable: name, offset: reference.offset, message: message)
            }
            return value
        }
    }

    /// One `$…` in the text: the variable's name (`nil` for `${}` or an unterminated `${`), how
    /// it was written and its byte offset.
    struct Reference {
        let name: String?
        let written: String
        let offset: Int
    }

    /// The shared scanner: `replace` gives the text for each reference.
    static func expand<Failure: Error>(_ text: String, replace: (Reference) throws(Failure) -> String) throws(Failure) -> String {
        let bytes = Array(text.utf8)
        guard bytes.contains(UInt8(ascii: "$")) else { return text }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "$"), index + 1 < bytes.count else {
                output.append(byte)
                index += 1
                continue
            }
            let (name, width) = shellName(bytes, from: index + 1)
            if width == 0 {
                output.append(byte)  // "$" not followed by a name: keep it
            } else {
                let written = String(decoding: bytes[index...(index + width)], as: UTF8.self)
                output.append(contentsOf: try replace(Reference(name: name, written: written, offset: index)).utf8)
            }
            index += 1 + width
        }
        return String(decoding: output, as: UTF8.self)
    }

    static func isShellSpecial(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "*"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "@"), UInt8(ascii: "!"),
            UInt8(ascii: "?"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return false
        }
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "_"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return false
        }
    }

    /// The variable name after a `$` at `start`, and how many bytes it spans. A `nil` name with
    /// a non-zero width is bad syntax to be dropped; width 0 means "no name here".
    static func shellName(_ bytes: [UInt8], from start: Int) -> (name: String?, width: Int) {
        let first = bytes[start]
        if first == UInt8(ascii: "{") {
            if start + 2 < bytes.count, isShellSpecial(bytes[start + 1]), bytes[start + 2] == UInt8(ascii: "}") {
                return (String(decoding: bytes[(start + 1)...(start + 1)], as: UTF8.self), 3)
            }
            var index = start + 1
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "}") {
                    if index == start + 1 { return (nil, 2) }  // "${}"
                    return (String(decoding: bytes[(start + 1)..<index], as: UTF8.self), index - start + 1)
                }
                index += 1
            }
            return (nil, 1)  // unterminated "${"
        }
        if isShellSpecial(first) {
            return (String(decoding: [first], as: UTF8.self), 1)
        }
        var index = start
        while index < bytes.count, isNameByte(bytes[index]) { index += 1 }
        guard index > start else { return (nil, 0) }
        return (String(decoding: bytes[start..<index], as: UTF8.self), index - start)
    }
}

// MARK: - Errors

/// A `$VAR` that is not set, or a malformed `${`, found by
/// ``EnvironmentExpansion/expandRequiringSet(_:lookup:)``.
public struct EnvironmentExpansionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The variable's name, `nil` for malformed syntax.
    public let variable: String?
    /// Byte offset of the `$` in the text.
    public let offset: Int
    /// `$ETCD_HOST is not set`, `${ at byte 7 has no closing }`.
    public let message: String

    public var description: String { message }
}
