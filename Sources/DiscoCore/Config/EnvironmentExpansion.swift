// MARK: - Environment expansion

/// `$VAR` and `${VAR}` expansion with the semantics of Go's `os.ExpandEnv`, as rqlite applies it
/// to `-disco-config`:
///
/// - `$NAME` takes the longest run of letters, digits and `_`; `${NAME}` takes everything up to `}`.
/// - Unset variables expand to the empty string.
/// - One-character shell specials after `$` (`$$`, `$1`, `$@`, `$*`, `$#`, `$!`, `$?`, `$-`) are
///   looked up as variables of that name, so they normally expand to nothing: a literal `$`
///   followed by one of these is lost. There is no escape for `$`.
/// - A `$` followed by anything else (`$.`, `$ `, or the end) is kept as is.
/// - `${}` is removed, and an unterminated `${` loses its `${`.
public enum EnvironmentExpansion {
    /// Expands `text`, looking variables up with `lookup` (`nil` means unset).
    public static func expand(_ text: String, lookup: (String) -> String?) -> String {
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
            if let name {
                output.append(contentsOf: (lookup(name) ?? "").utf8)
            } else if width == 0 {
                output.append(byte)  // "$" not followed by a name: keep it
            }  // else: bad syntax such as "${}" is dropped
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
