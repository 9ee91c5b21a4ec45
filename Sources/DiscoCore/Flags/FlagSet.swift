// MARK: - Flag handles

/// A typed handle to a declared flag; read its value from ``ParsedFlags``.
public struct Flag<Value: Sendable>: Sendable {
    /// The flag's name without dashes.
    public let name: String
    /// The value when the flag is not given.
    public let defaultValue: Value
}

/// The result of parsing: typed values and the positional arguments that followed the flags.
public struct ParsedFlags: Sendable {
    let values: [String: any Sendable]
    /// Arguments after the flags (after the first non-flag argument, or after `--`).
    public let positionals: [String]

    /// The flag's value: the last one given, or its default.
    public subscript<Value>(flag: Flag<Value>) -> Value {
        if let repeated = values[flag.name] as? RepeatedValues { return (repeated.values as? Value) ?? flag.defaultValue }
        return (values[flag.name] as? Value) ?? flag.defaultValue
    }

    /// Whether the flag appeared on the command line (even with its default value).
    public func isSet(_ name: String) -> Bool { values[name] != nil }

    /// Whether the flag appeared on the command line.
    public func isSet<Value>(_ flag: Flag<Value>) -> Bool { isSet(flag.name) }

    /// Throws when a file flag was given with an empty value (`-http-cert "$CERT"` with `CERT`
    /// unset), which would otherwise mean the same as leaving it out: `without` says what that
    /// means (`plain HTTP`).
    public func requireNonEmpty(_ flag: Flag<String>, without: String) throws(FlagError) {
        guard isSet(flag), self[flag].isEmpty else { return }
        throw FlagError.invalid(flag.name, "the path is empty (an unset variable?); give the file, or drop -\(flag.name) for \(without)")
    }
}

// MARK: - FlagSet

/// Command-line flags with the semantics of Go's `flag` package, which rqlite users know:
///
/// - `-name value`, `-name=value`, `--name`, `--name=value`;
/// - booleans only as `-name` or `-name=<bool>` (`1 0 t f T F true false TRUE FALSE True False`);
///   `-bool value` does not consume `value`;
/// - `--` ends the flags; parsing stops at the first non-flag argument (unless `interspersed`,
///   which keeps reading flags after it); a lone `-` is positional;
/// - a flag given twice keeps the last value (unless declared ``givenOnce(_:)``: then it is an error);
/// - `-h`, `-help`, `--help` request usage (``FlagError/Code/helpRequested``).
///
/// One deliberate difference: a non-boolean flag followed by another *defined* flag
/// (`-http-addr -raft-addr x`) is reported as missing its value instead of swallowing the flag;
/// write `-http-addr=-raft-addr` if that is really meant.
public struct FlagSet: Sendable {
    struct Definition: Sendable {
        var name: String
        var typeName: String
        var usage: String
        var group: String?
        /// Shown as `(default X)`; `nil` hides it (zero values, as in Go).
        var defaultText: String?
        var isBool: Bool
        /// Each occurrence adds to an array instead of replacing the value (``repeated(_:usage:group:typeName:parse:)``).
        var accumulates = false
        /// A second occurrence is an error instead of replacing the first (``givenOnce(_:)``).
        var once = false
        var parse: @Sendable (String) throws(FlagValueError) -> any Sendable
    }

    /// Program name used in messages (`discod`).
    public let programName: String
    /// First lines of the usage text, e.g. `Usage: discod [flags] <data-dir>`.
    public var synopsis: String
    /// Text printed after the flags in usage.
    public var epilogue: String?
    var definitions: [Definition] = []

    public init(programName: String, synopsis: String, epilogue: String? = nil) {
        self.programName = programName
        self.synopsis = synopsis
        self.epilogue = epilogue
    }

    /// Names of the declared flags, in declaration order.
    public var flagNames: [String] { definitions.map(\.name) }
    /// The names of the boolean flags (which take a value only after `=`).
    public var booleanFlagNames: [String] { definitions.filter(\.isBool).map(\.name) }

    // MARK: Declaring

    /// Declares flags in `declare` under the usage heading `heading` (those that name no group
    /// of their own), and returns what `declare` returns.
    public mutating func grouped<Result>(_ heading: String, _ declare: (inout FlagSet) -> Result) -> Result {
        let first = definitions.count
        let result = declare(&self)
        for index in first..<definitions.count where definitions[index].group == nil {
            definitions[index].group = heading
        }
        return result
    }

    /// Whether `name` is a flag of this set.
    public func declares(_ name: String) -> Bool { definitions.contains(where: { $0.name == name }) }

    /// Declares a flag with a custom value parser.
    /// - Parameters:
    ///   - typeName: the placeholder shown in usage (`-join list`).
    ///   - defaultText: the default as shown in usage; `nil` shows none.
    public mutating func custom<Value: Sendable>(
        _ name: String, default defaultValue: Value, defaultText: String?, typeName: String,
        usage: String, group: String? = nil,
        parse: @escaping @Sendable (String) throws(FlagValueError) -> Value
    ) -> Flag<Value> {
        precondition(!name.isEmpty && !name.hasPrefix("-") && !name.contains("="), "bad flag name \(name.debugDescription)")
        precondition(!definitions.contains(where: { $0.name == name }), "flag -\(name) declared twice")
        definitions.append(Definition(
            name: name, typeName: typeName, usage: usage, group: group, defaultText: defaultText, isBool: false,
            parse: { text throws(FlagValueError) in try parse(text) }))
        return Flag(name: name, defaultValue: defaultValue)
    }

    /// Declares a string flag.
    public mutating func string(_ name: String, default defaultValue: String = "", usage: String,
                                group: String? = nil, typeName: String = "string") -> Flag<String> {
        custom(name, default: defaultValue, defaultText: defaultValue.isEmpty ? nil : defaultValue.debugDescription,
               typeName: typeName, usage: usage, group: group) { $0 }
    }

    /// Declares a boolean flag (`-name`, `-name=false`).
    public mutating func bool(_ name: String, default defaultValue: Bool = false, usage: String, group: String? = nil) -> Flag<Bool> {
        let flag = custom(name, default: defaultValue, defaultText: defaultValue ? "true" : nil, typeName: "",
                          usage: usage, group: group) { text throws(FlagValueError) in
            guard let value = GoValueParsing.parseBool(text) else {
                throw FlagValueError("expected a boolean: true or false (also 1, 0, t, f, T, F, TRUE, FALSE, True, False)")
            }
            return value
        }
        definitions[definitions.count - 1].isBool = true
        return flag
    }

    /// Declares a signed integer flag (Go syntax: `42`, `-1`, `0x2A`, `1_000`).
    public mutating func int(_ name: String, default defaultValue: Int = 0, usage: String,
                             group: String? = nil, typeName: String = "int") -> Flag<Int> {
        custom(name, default: defaultValue, defaultText: defaultValue == 0 ? nil : String(defaultValue),
               typeName: typeName, usage: usage, group: group) { text throws(FlagValueError) in
            let value = try GoValueParsing.parseInt(text).get()
            guard let result = Int(exactly: value) else { throw FlagValueError("integer out of range") }
            return result
        }
    }

    /// Declares an unsigned integer flag.
    public mutating func uint(_ name: String, default defaultValue: UInt = 0, usage: String,
                              group: String? = nil, typeName: String = "uint") -> Flag<UInt> {
        custom(name, default: defaultValue, defaultText: defaultValue == 0 ? nil : String(defaultValue),
               typeName: typeName, usage: usage, group: group) { text throws(FlagValueError) in
            let value = try GoValueParsing.parseUInt(text).get()
            guard let result = UInt(exactly: value) else { throw FlagValueError("integer out of range") }
            return result
        }
    }

    /// Declares a duration flag in Go syntax (`300ms`, `1.5s`, `2m`, `1h2m3.5s`).
    public mutating func duration(_ name: String, default defaultValue: Duration = .zero, usage: String,
                                  group: String? = nil) -> Flag<Duration> {
        custom(name, default: defaultValue, defaultText: defaultValue == .zero ? nil : GoDuration.format(defaultValue),
               typeName: "duration", usage: usage, group: group) { text throws(FlagValueError) in
            do throws(DurationParseError) {
                return try GoDuration.parse(text)
            } catch {
                let prefix = error.reason == "not a duration" ? "" : error.reason + "; "
                throw FlagValueError(prefix + "expected a duration such as 300ms, 1.5s or 2m")
            }
        }
    }
}
