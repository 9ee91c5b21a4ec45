import DiscoCore
import DiscoSystem
import Synchronization
@preconcurrency import Glibc

// MARK: - Output formats

/// `-format`: text is for people; json is exactly one JSON document; jsonl (only where a command
/// streams, as `events -follow`) is one JSON value per line.
enum OutputFormat: String, Sendable, CaseIterable {
    case text
    case json
    case jsonLines = "jsonl"
}

/// A command's `-format text|json[|jsonl]` and its shorthand `-json` (`-format json`).
struct OutputFlags: Sendable {
    let format: Flag<OutputFormat>
    let json: Flag<Bool>

    /// Declares `-format` (with `formats`, text first) and `-json`; `meanings` says what each
    /// format other than text prints.
    init(_ set: inout FlagSet, json jsonMeaning: String, jsonLines linesMeaning: String? = nil) {
        let formats: [OutputFormat] = linesMeaning == nil ? [.text, .json] : [.text, .json, .jsonLines]
        let names = formats.map(\.rawValue)
        var usage = "Output format: text (the default, for people) or json\njson: \(jsonMeaning)"
        if let linesMeaning {
            usage = "Output format: text (the default, for people), json or jsonl\njson: \(jsonMeaning)\njsonl: \(linesMeaning)"
        }
        format = set.custom("format", default: OutputFormat.text, defaultText: nil, typeName: names.joined(separator: "|"),
                            usage: usage) { text throws(FlagValueError) in
            guard let format = OutputFormat(rawValue: text), formats.contains(format) else {
                throw FlagValueError(formats.count == 2 ? "expected text or json" : "expected text, json or jsonl")
            }
            return format
        }
        json = set.bool("json", usage: "The same as -format json")
    }

    /// The format asked for; `-json` with another `-format` is a usage error.
    func resolve(_ flags: ParsedFlags) throws(FlagError) -> OutputFormat {
        guard flags[json] else { return flags[format] }
        if flags.isSet(format), flags[format] != .json {
            throw FlagError.conflict("json", "-json and -format \(flags[format].rawValue) ask for different output; give one of them")
        }
        return .json
    }
}

/// The `errno` of the first write to standard output that failed (0: none): main turns it into
/// exit status 1, so output lost to a full disk or a reader that is gone is not reported as done.
let standardOutputFailure = Atomic<Int32>(0)

/// Writes one line (a newline is added) to standard output; false when it could not be written
/// (remembered in ``standardOutputFailure``).
@discardableResult
func printLine(_ text: String) -> Bool {
    guard let error = CommandLineTool.writeStandardOutput(text + "\n") else { return true }
    _ = standardOutputFailure.compareExchange(expected: 0, desired: error, ordering: .relaxed)
    return false
}

/// "cannot write to standard output (reason)" once a write to it failed, else nil.
func standardOutputProblem() -> String? {
    let error = standardOutputFailure.load(ordering: .relaxed)
    return error == 0 ? nil : "cannot write to standard output (\(String(cString: strerror(error))))"
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
