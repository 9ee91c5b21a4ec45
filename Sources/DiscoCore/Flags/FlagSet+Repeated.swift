// MARK: - Repeatable flags and flag kinds

extension FlagSet {
    /// Declares a flag that may be given several times (`-limit-req A -limit-req B`): its value
    /// is every occurrence's parsed value, in command-line order (empty when not given).
    public mutating func repeated<Value: Sendable>(
        _ name: String, usage: String, group: String? = nil, typeName: String = "value",
        parse: @escaping @Sendable (String) throws(FlagValueError) -> Value
    ) -> Flag<[Value]> {
        precondition(!name.isEmpty && !name.hasPrefix("-") && !name.contains("="), "bad flag name \(name.debugDescription)")
        precondition(!definitions.contains(where: { $0.name == name }), "flag -\(name) declared twice")
        definitions.append(Definition(
            name: name, typeName: typeName, usage: usage + " (repeatable)", group: group, defaultText: nil, isBool: false,
            accumulates: true, parse: { text throws(FlagValueError) in try parse(text) }))
        return Flag(name: name, defaultValue: [])
    }

    /// Makes each of `names` (declared, not repeatable) a flag that may be given once: a second
    /// occurrence is an error naming it (``FlagError/Code/givenTwice``) instead of silently
    /// replacing the first, as Go's rule (the last value wins) would. For a program's own flags
    /// whose repeat is a mistake (two configurations, two upstreams); flags that follow Go's rule
    /// because command lines written for other programs rely on it are left as they are.
    public mutating func givenOnce(_ names: some Sequence<String>) {
        for name in names {
            guard let index = definitions.firstIndex(where: { $0.name == name }) else { preconditionFailure("no flag -\(name) to make givenOnce") }
            precondition(!definitions[index].accumulates, "-\(name) is repeatable; it cannot also be givenOnce")
            definitions[index].once = true
        }
    }

    /// Whether `name` is a declared boolean flag (one that never takes the next argument as its value).
    public func isBoolean(_ name: String) -> Bool {
        definitions.first(where: { $0.name == name })?.isBool ?? false
    }

    /// `value` appended to the array already parsed for a repeatable flag.
    static func appending(_ value: any Sendable, to existing: (any Sendable)?) -> any Sendable {
        guard let existing else { return RepeatedValues(values: [value]) }
        guard let earlier = existing as? RepeatedValues else { return RepeatedValues(values: [existing, value]) }
        return RepeatedValues(values: earlier.values + [value])
    }
}

/// The occurrences of a repeatable flag as parsed, before ``ParsedFlags`` casts them to `[Value]`.
struct RepeatedValues: Sendable {
    var values: [any Sendable]
}
