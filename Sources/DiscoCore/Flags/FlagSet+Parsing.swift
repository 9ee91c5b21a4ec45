// MARK: - Parsing

extension FlagSet {
    /// Parses `arguments` (without the program name).
    ///
    /// - Parameter interspersed: `false` (Go's rule) stops at the first non-flag argument;
    ///   `true` (as kubectl and etcdctl read a command's arguments) collects non-flag arguments
    ///   as positionals and keeps reading flags after them, until `--`.
    /// - Returns: the values given and the positional arguments.
    /// - Throws: ``FlagError``; code ``FlagError/Code/helpRequested`` for `-h`/`-help`.
    public func parse(_ arguments: [String], interspersed: Bool = false) throws(FlagError) -> ParsedFlags {
        var values: [String: any Sendable] = [:]
        var positionals: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            // A non-flag (including a lone "-") ends the flags, or is collected when interspersed.
            guard argument.count >= 2, argument.hasPrefix("-") else {
                guard interspersed else { break }
                positionals.append(argument)
                index += 1
                continue
            }
            index += 1
            var body = Substring(argument).dropFirst()
            if body.hasPrefix("-") {
                body = body.dropFirst()
                if body.isEmpty { break }  // "--" ends the flags and is consumed
            }
            if body.hasPrefix("-") || body.hasPrefix("=") {
                throw FlagError(code: .badSyntax, flag: nil, message: "bad flag syntax: \(argument)")
            }
            var name = String(body)
            var inlineValue: String?
            if let equals = body.firstIndex(of: "=") {
                name = String(body[..<equals])
                inlineValue = String(body[body.index(after: equals)...])
            }
            guard let definition = definitions.first(where: { $0.name == name }) else {
                if name == "h" || name == "help" {
                    throw FlagError(code: .helpRequested, flag: name, message: "help requested")
                }
                if interspersed, name.first?.isNumber == true {
                    throw FlagError.unknown(name, suggestion: nil, hint: "write -- before arguments that start with -, e.g. -- \(argument)")
                }
                throw FlagError.unknown(name, suggestion: EditDistance.suggestion(for: name, among: flagNames))
            }
            if definition.once, values[name] != nil {
                throw FlagError.givenTwice(name)
            }
            let text: String
            if definition.isBool {
                text = inlineValue ?? "true"
            } else if let inlineValue {
                text = inlineValue
            } else {
                guard index < arguments.count else { throw FlagError.missingValue(name) }
                let next = arguments[index]
                if declaredFlagName(in: next) != nil {
                    throw FlagError.missingValue(name, nextIsFlag: next)
                }
                text = next
                index += 1
            }
            do throws(FlagValueError) {
                let value = try definition.parse(text)
                values[name] = definition.accumulates ? Self.appending(value, to: values[name]) : value
            } catch {
                throw FlagError.invalidValue(name, value: text, reason: error.reason)
            }
        }
        return ParsedFlags(values: values, positionals: positionals + arguments[index...])
    }

    /// If `argument` looks like a flag this set declares (`-name`, `--name`, `-name=x`), its name.
    func declaredFlagName(in argument: String) -> String? {
        guard argument.count >= 2, argument.hasPrefix("-") else { return nil }
        var body = Substring(argument).dropFirst()
        if body.hasPrefix("-") { body = body.dropFirst() }
        let name = String(body.prefix(while: { $0 != "=" }))
        return definitions.contains(where: { $0.name == name }) ? name : nil
    }
}

// MARK: - Usage

extension FlagSet {
    /// The full help text: synopsis, flags grouped under their headings in declaration order,
    /// each as in Go's `PrintDefaults`: `  -name type` then `    usage (default X)`.
    public func usage() -> String {
        var lines: [String] = [synopsis, ""]
        var groupOrder: [String?] = []
        for definition in definitions where !groupOrder.contains(where: { $0 == definition.group }) {
            groupOrder.append(definition.group)
        }
        let hasGroups = groupOrder.contains(where: { $0 != nil })
        for group in groupOrder {
            if hasGroups { lines.append("\(group ?? "Other flags"):") }
            for definition in definitions where definition.group == group {
                lines.append(contentsOf: usageLines(for: definition))
            }
            lines.append("")
        }
        if let epilogue { lines.append(epilogue) }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n") + "\n"
    }

    func usageLines(for definition: Definition) -> [String] {
        var lines = ["  -" + definition.name + (definition.typeName.isEmpty ? "" : " " + definition.typeName)]
        var text = definition.usage
        if let defaultText = definition.defaultText { text += " (default \(defaultText))" }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lines.append("    " + line)
        }
        return lines
    }

    /// A one-line pointer to the help, for printing after an error.
    public var usageHint: String { "Run '\(programName) -h' for usage." }
}
