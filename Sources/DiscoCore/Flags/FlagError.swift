// MARK: - FlagError

/// A command-line problem: an unknown flag, a missing or bad value, a bad combination, or a
/// request for help. `description` is the message to print; it always names the flag.
public struct FlagError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The class of problem, for programmatic checks.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }

        /// `-h`, `-help` or `--help` was given: print usage and exit 0.
        public static let helpRequested = Code(name: "helpRequested")
        /// A flag that is not defined.
        public static let unknownFlag = Code(name: "unknownFlag")
        /// A non-boolean flag at the end of the arguments, without a value.
        public static let missingValue = Code(name: "missingValue")
        /// A value the flag's type does not accept.
        public static let invalidValue = Code(name: "invalidValue")
        /// Something like `---x` or `-=x`.
        public static let badSyntax = Code(name: "badSyntax")
        /// Positional arguments missing or extra.
        public static let badArguments = Code(name: "badArguments")
        /// Values that are valid on their own but not together.
        public static let conflict = Code(name: "conflict")
        /// A flag that may be given once (``FlagSet/givenOnce(_:)``) appeared again.
        public static let givenTwice = Code(name: "givenTwice")
    }

    public let code: Code
    /// The flag concerned, without dashes (`nil` for positional problems).
    public let flag: String?
    /// The complete message.
    public let message: String

    public init(code: Code, flag: String?, message: String) {
        self.code = code
        self.flag = flag
        self.message = message
    }

    public var description: String { message }

    /// The conventional exit status: 0 for a help request, 2 for every usage error.
    public var exitStatus: Int32 { code == .helpRequested ? 0 : 2 }

    // MARK: Constructors

    static func unknown(_ name: String, suggestion: String?, hint: String? = nil) -> FlagError {
        var message = "flag provided but not defined: -\(name)"
        if let suggestion { message += "; did you mean -\(suggestion)?" }
        if let hint { message += "; \(hint)" }
        return FlagError(code: .unknownFlag, flag: name, message: message)
    }

    static func missingValue(_ name: String, nextIsFlag: String? = nil) -> FlagError {
        var message = "flag needs an argument: -\(name)"
        if let nextIsFlag { message += " (the next argument, \(nextIsFlag), is a flag; write -\(name)=\(nextIsFlag) if that is really the value)" }
        return FlagError(code: .missingValue, flag: name, message: message)
    }

    static func givenTwice(_ name: String) -> FlagError {
        FlagError(code: .givenTwice, flag: name, message: "flag -\(name) is given twice; it may be given once (the second would silently replace the first)")
    }

    static func invalidValue(_ name: String, value: String, reason: String) -> FlagError {
        FlagError(code: .invalidValue, flag: name, message: "invalid value \(value.debugDescription) for flag -\(name): \(reason)")
    }

    /// A flag whose value is wrong for a reason beyond its type (range, meaning).
    public static func invalid(_ name: String, _ message: String) -> FlagError {
        FlagError(code: .invalidValue, flag: name, message: "-\(name): \(message)")
    }

    /// Two or more flags that cannot be used together; `message` names them.
    public static func conflict(_ name: String, _ message: String) -> FlagError {
        FlagError(code: .conflict, flag: name, message: message)
    }

    /// Missing or extra positional arguments.
    public static func badArguments(_ message: String) -> FlagError {
        FlagError(code: .badArguments, flag: nil, message: message)
    }
}
