import DiscoCore
import DiscoSystem

// MARK: - Output formats

/// `-format text|json`: text is for people, json is the node's own JSON (one value per line).
enum OutputFormat: String, Sendable, CaseIterable {
    case text
    case json

    /// Declares `-format` on a command.
    static func flag(_ set: inout FlagSet, json jsonMeaning: String) -> Flag<OutputFormat> {
        set.custom("format", default: OutputFormat.text, defaultText: "\"text\"", typeName: "text|json",
                   usage: "Output format: text, or json (\(jsonMeaning))") { text throws(FlagValueError) in
            guard let format = OutputFormat(rawValue: text) else { throw FlagValueError("expected text or json") }
            return format
        }
    }
}

/// Writes one line (a newline is added) to standard output.
func printLine(_ text: String) {
    CommandLineTool.writeStandardOutput(text + "\n")
}

// MARK: - Tables

/// Left-aligned columns separated by two spaces, with a header row.
struct TextTable {
    let header: [String]
    var rows: [[String]] = []

    init(_ header: String...) { self.header = header }

    mutating func append(_ row: [String]) { rows.append(row) }

    func rendered(indent: String = "") -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (column, cell) in row.enumerated() where column < widths.count { widths[column] = max(widths[column], cell.count) }
        }
        return all.map { row in
            var line = indent
            for (column, cell) in row.enumerated() {
                let isLast = column == row.count - 1
                line += isLast ? cell : cell + String(repeating: " ", count: widths[column] - cell.count + 2)
            }
            return line
        }.joined(separator: "\n")
    }
}

// MARK: - JSON helpers

extension JSONValue {
    /// The value as text for a table cell: strings bare, null as `-`, others encoded.
    var cell: String {
        switch self {
        case .string(let text): text
        case .null: "-"
        case .bool(let flag): flag ? "yes" : "no"
        default: encoded()
        }
    }
}

/// A missing value shows as `-`.
func cell(_ value: JSONValue?) -> String { value?.cell ?? "-" }
