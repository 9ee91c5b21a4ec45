// MARK: - ConfigError

/// A configuration document (disco-config, a request body) that cannot be used: bad JSON with
/// its position, an unknown field with the valid ones, a wrong type or value naming the field.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of problem, for programmatic checks.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// The text is not JSON; ``ConfigError/syntax`` has the details.
        public static let syntax = Code(name: "syntax")
        /// The file named could not be read.
        public static let unreadable = Code(name: "unreadable")
        /// A field the configuration does not have.
        public static let unknownField = Code(name: "unknownField")
        /// A field of the wrong JSON type, or an out-of-range value.
        public static let invalidValue = Code(name: "invalidValue")
        /// A required field is absent.
        public static let missingField = Code(name: "missingField")
        /// A `$VAR` that is not set (or a malformed `${`) in text that is expanded.
        public static let unsetVariable = Code(name: "unsetVariable")
    }

    public let code: Code
    /// The dotted path of the field concerned (`tls_config.ca_file`), if any.
    public let field: String?
    /// The complete message.
    public let message: String
    /// The underlying JSON error for ``Code/syntax``.
    public let syntax: JSONParseError?

    public init(code: Code, field: String?, message: String, syntax: JSONParseError? = nil) {
        self.code = code
        self.field = field
        self.message = message
        self.syntax = syntax
    }

    public var description: String { message }
}

// MARK: - JSONObjectReader

/// Strict, typed reading of a JSON object's fields with errors that name the field:
/// `disco-config field "port": expected an integer from 1 to 65535, got "abc"`.
///
/// Unknown fields are rejected when the reader is created, listing the valid ones. A field set
/// to `null` counts as absent (as Go's decoder treats it).
public struct JSONObjectReader: Sendable {
    /// What is being read, as the start of messages: `disco-config`, `request body`.
    public let context: String
    /// Dotted prefix for nested objects (`tls_config.`), empty at the top.
    public let path: String
    public let object: JSONObject

    /// - Parameter allowedFields: every field name the object may have.
    public init(_ value: JSONValue, context: String, allowedFields: [String], path: String = "") throws(ConfigError) {
        self.context = context
        self.path = path
        guard case .object(let object) = value else {
            let location = path.isEmpty ? context : "\(context) field \(String(path.dropLast()).debugDescription)"
            throw ConfigError(code: .invalidValue, field: path.isEmpty ? nil : String(path.dropLast()),
                              message: "\(location): expected a JSON object, got \(value.errorDescription)")
        }
        self.object = object
        for key in object.keys where !allowedFields.contains(key) {
            var message = "\(context): unknown field \((path + key).debugDescription)"
            if let suggestion = EditDistance.suggestion(for: key, among: allowedFields) {
                message += "; did you mean \((path + suggestion).debugDescription)?"
            }
            message += " Valid fields\(path.isEmpty ? "" : " of \(String(path.dropLast()).debugDescription)") are: "
                + allowedFields.joined(separator: ", ")
            throw ConfigError(code: .unknownField, field: path + key, message: message)
        }
    }

    // MARK: Errors

    /// An error about field `key`: `<context> field "<path.key>": <problem>`.
    public func error(_ key: String, _ problem: String, code: ConfigError.Code = .invalidValue) -> ConfigError {
        ConfigError(code: code, field: path + key, message: "\(context) field \((path + key).debugDescription): \(problem)")
    }

    func wrongType(_ key: String, expected: String, got value: JSONValue) -> ConfigError {
        error(key, "expected \(expected), got \(value.errorDescription)")
    }

    /// The raw value of `key`, or `nil` when absent or `null`.
    public func value(_ key: String) -> JSONValue? {
        guard let value = object[key], value != .null else { return nil }
        return value
    }

    /// Throws ``ConfigError/Code/missingField`` unless `value` is present.
    public func required<Value>(_ key: String, _ value: Value?, example: String) throws(ConfigError) -> Value {
        guard let value else {
            throw ConfigError(code: .missingField, field: path + key,
                              message: "\(context): missing required field \((path + key).debugDescription), e.g. \(example)")
        }
        return value
    }

    // MARK: Typed fields

    public func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value else { throw wrongType(key, expected: "a string", got: value) }
        return text
    }

    /// A string that must not be empty when present.
    public func nonEmptyString(_ key: String) throws(ConfigError) -> String? {
        guard let text = try string(key) else { return nil }
        guard !text.isEmpty else { throw error(key, "must not be empty") }
        return text
    }

    public func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw wrongType(key, expected: "true or false", got: value) }
        return flag
    }

    /// An integer in `range`.
    public func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value = value(key) else { return nil }
        let expected = "an integer from \(range.lowerBound) to \(range.upperBound)"
        guard case .number(let number) = value, let integer = number.intValue, range.contains(integer) else {
            throw wrongType(key, expected: expected, got: value)
        }
        return integer
    }

    /// A non-negative integer that fits in 64 bits (Consul indexes, etcd revisions).
    public func uint64(_ key: String) throws(ConfigError) -> UInt64? {
        guard let value = value(key) else { return nil }
        guard case .number(let number) = value, let integer = number.uint64Value else {
            throw wrongType(key, expected: "an integer from 0 to \(UInt64.max)", got: value)
        }
        return integer
    }

    /// A signed integer that fits in 64 bits.
    public func int64(_ key: String) throws(ConfigError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard case .number(let number) = value, let integer = number.int64Value else {
            throw wrongType(key, expected: "an integer from \(Int64.min) to \(Int64.max)", got: value)
        }
        return integer
    }

    public func double(_ key: String) throws(ConfigError) -> Double? {
        guard let value = value(key) else { return nil }
        guard case .number(let number) = value, let double = number.doubleValue else {
            throw wrongType(key, expected: "a number", got: value)
        }
        return double
    }

    public func stringArray(_ key: String) throws(ConfigError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard case .array(let elements) = value else {
            throw wrongType(key, expected: "an array of strings", got: value)
        }
        var strings: [String] = []
        for (position, element) in elements.enumerated() {
            guard case .string(let text) = element else {
                throw error(key, "element \(position): expected a string, got \(element.errorDescription)")
            }
            strings.append(text)
        }
        return strings
    }

    /// A Go duration: a string such as `"5s"` or an integer number of nanoseconds.
    public func duration(_ key: String) throws(ConfigError) -> Duration? {
        guard let value = value(key) else { return nil }
        switch value {
        case .string(let text):
            do throws(DurationParseError) {
                return try GoDuration.parse(text)
            } catch {
                throw self.error(key, "\(error.reason); expected a duration such as \"300ms\", \"1.5s\" or \"2m\", or integer nanoseconds")
            }
        case .number(let number):
            guard let nanoseconds = number.int64Value else {
                throw wrongType(key, expected: "a duration string such as \"5s\" or integer nanoseconds", got: value)
            }
            return .nanoseconds(nanoseconds)
        default:
            throw wrongType(key, expected: "a duration string such as \"5s\" or integer nanoseconds", got: value)
        }
    }

    /// A nested object, read with its own allowed fields.
    public func object(_ key: String, allowedFields: [String]) throws(ConfigError) -> JSONObjectReader? {
        guard let value = value(key) else { return nil }
        return try JSONObjectReader(value, context: context, allowedFields: allowedFields, path: path + key + ".")
    }

    /// Base64 (standard alphabet, padded) bytes, as Go encodes `[]byte` in JSON.
    public func base64Bytes(_ key: String) throws(ConfigError) -> [UInt8]? {
        guard let text = try string(key) else { return nil }
        guard let bytes = Base64.decode(text) else {
            throw error(key, "expected base64 (standard alphabet with '=' padding), as Go encodes bytes in JSON")
        }
        return bytes
    }
}
