// MARK: - ByteSize

/// Sizes written on the command line: a whole number of bytes with an optional unit, e.g.
/// `65536`, `512KiB`, `64MiB`, `1GiB`, or decimal `64MB` (units are case-sensitive, no spaces).
public enum ByteSize {
    /// The units accepted, with their multipliers.
    static let units: [(suffix: String, multiplier: Int)] = [
        ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
        ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000),
        ("B", 1),
    ]

    /// Parses `text`, refusing anything else with a message that shows the accepted forms.
    public static func parse(_ text: String) throws(FlagValueError) -> Int {
        let unit = units.first { text.hasSuffix($0.suffix) }
        let number = unit.map { String(text.dropLast($0.suffix.count)) } ?? text
        guard !number.isEmpty, number.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let value = Int(number)
        else {
            throw FlagValueError("\(text.debugDescription) is not a size; write a whole number of bytes with an optional unit, e.g. 65536, 512KiB, 64MiB or 1GiB")
        }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: unit?.multiplier ?? 1)
        guard !overflow else { throw FlagValueError("\(text) is too large") }
        return bytes
    }

    /// `bytes` in the largest binary unit that divides it (`67108864` → `64MiB`).
    public static func format(_ bytes: Int) -> String {
        for (suffix, multiplier) in [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes >= multiplier && bytes % multiplier == 0 {
            return "\(bytes / multiplier)\(suffix)"
        }
        return "\(bytes)B"
    }
}
