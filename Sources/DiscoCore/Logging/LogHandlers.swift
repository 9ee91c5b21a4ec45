// MARK: - LogfmtHandler

/// Text lines in logfmt: `ts=2026-11-21T00:52:03.123Z level=info logger=raft msg="became leader" term=3`.
/// Metadata keys are sorted; values are quoted when they contain spaces, `=`, quotes or
/// control characters, or are empty. Nested metadata is flattened to `key.sub=value`.
public struct LogfmtHandler: LogHandler {
    public let sink: any LogSink
    public let clock: LogClock

    public init(sink: any LogSink, clock: LogClock) {
        self.sink = sink
        self.clock = clock
    }

    public func log(_ record: LogRecord) {
        var line = "ts=\(LogClock.rfc3339(nanoseconds: clock.now())) level=\(record.level)"
        line += " logger=\(Self.quote(record.label)) msg=\(Self.quote(record.message))"
        var pairs: [(String, String)] = []
        for (key, value) in record.metadata { Self.flatten(key: Self.sanitizeKey(key), value: value, into: &pairs) }
        for (key, value) in pairs.sorted(by: { $0.0 < $1.0 }) {
            line += " \(key)=\(Self.quote(value))"
        }
        line += "\n"
        sink.write(Array(line.utf8))
    }

    static func flatten(key: String, value: Logger.MetadataValue, into pairs: inout [(String, String)]) {
        switch value {
        case .string(let text):
            pairs.append((key, text))
        case .array(let values):
            pairs.append((key, values.map(\.description).joined(separator: ",")))
        case .dictionary(let values):
            for (subkey, subvalue) in values { flatten(key: key + "." + sanitizeKey(subkey), value: subvalue, into: &pairs) }
        }
    }

    /// Keys may not contain spaces, `=` or quotes; those become `_`.
    static func sanitizeKey(_ key: String) -> String {
        guard !key.isEmpty else { return "_" }
        return String(key.unicodeScalars.map { scalar -> Character in
            scalar.value <= 0x20 || scalar == "=" || scalar == "\"" || scalar.value == 0x7F ? "_" : Character(scalar)
        })
    }

    /// A logfmt value: bare when safe, else double-quoted with `\"`, `\\`, `\n`, `\r`, `\t`, `\u00XX` escapes.
    public static func quote(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { scalar in
            scalar.value <= 0x20 || scalar == "=" || scalar == "\"" || scalar == "\\" || scalar.value == 0x7F
        }
        guard needsQuotes else { return value }
        var output = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        return output + "\""
    }
}

// MARK: - JSONLinesHandler

/// One JSON object per line: `{"ts":"...","level":"info","logger":"raft","msg":"...", ...metadata}`.
/// Metadata keys follow the fixed keys, sorted; a metadata key that collides with a fixed key is
/// prefixed with `meta.`.
public struct JSONLinesHandler: LogHandler {
    public let sink: any LogSink
    public let clock: LogClock

    public init(sink: any LogSink, clock: LogClock) {
        self.sink = sink
        self.clock = clock
    }

    static let fixedKeys: Set<String> = ["ts", "level", "logger", "msg"]

    public func log(_ record: LogRecord) {
        var object = JSONObject()
        object.append(key: "ts", value: .string(LogClock.rfc3339(nanoseconds: clock.now())))
        object.append(key: "level", value: .string(record.level.description))
        object.append(key: "logger", value: .string(record.label))
        object.append(key: "msg", value: .string(record.message))
        for (key, value) in record.metadata.sorted(by: { $0.key < $1.key }) {
            var name = Self.fixedKeys.contains(key) ? "meta." + key : key
            while object[name] != nil { name = "meta." + name }
            object.append(key: name, value: Self.json(value))
        }
        var line = JSONValue.object(object).encodedBytes()
        line.append(UInt8(ascii: "\n"))
        sink.write(line)
    }

    static func json(_ value: Logger.MetadataValue) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .array(let values): return .array(values.map(json))
        case .dictionary(let values):
            var object = JSONObject()
            for (key, nested) in values.sorted(by: { $0.key < $1.key }) { object.append(key: key, value: json(nested)) }
            return .object(object)
        }
    }
}
