// MARK: - Logger

/// A logger value shaped like swift-log's: a label, a minimum level, metadata, and a backend
/// (``LogHandler``). Messages are autoclosures, so a disabled level costs one comparison.
public struct Logger: Sendable {
    /// Severity, from most verbose to most severe.
    public enum Level: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
        case trace, debug, info, notice, warning, error, critical

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .trace: "trace"
            case .debug: "debug"
            case .info: "info"
            case .notice: "notice"
            case .warning: "warning"
            case .error: "error"
            case .critical: "critical"
            }
        }

        /// Parses a `-log-level` value (case-insensitive; `warn` means `warning`).
        public init(parsing text: String) throws(FlagValueError) {
            let lowered = text.lowercased()
            if lowered == "warn" {
                self = .warning
                return
            }
            guard let level = Level.allCases.first(where: { $0.description == lowered }) else {
                throw FlagValueError("expected one of \(Level.allCases.map(\.description).joined(separator: ", "))")
            }
            self = level
        }
    }

    /// A metadata value: a string, or nested lists and maps of them.
    public enum MetadataValue: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByStringInterpolation,
        ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, CustomStringConvertible
    {
        case string(String)
        case array([MetadataValue])
        case dictionary([String: MetadataValue])

        public init(stringLiteral value: String) { self = .string(value) }
        public init(arrayLiteral elements: MetadataValue...) { self = .array(elements) }
        public init(dictionaryLiteral elements: (String, MetadataValue)...) {
            self = .dictionary(Dictionary(elements, uniquingKeysWith: { _, last in last }))
        }

        public var description: String {
            switch self {
            case .string(let text): text
            case .array(let values): "[" + values.map(\.description).joined(separator: ", ") + "]"
            case .dictionary(let values):
                "[" + values.sorted(by: { $0.key < $1.key }).map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "]"
            }
        }
    }

    public typealias Metadata = [String: MetadataValue]

    /// The subsystem, e.g. `raft`, `http`, `bootstrap`.
    public let label: String
    /// Messages below this level are dropped without evaluating them.
    public var logLevel: Level
    /// Attached to every message (per-message metadata wins on conflicts).
    public var metadata: Metadata
    public var handler: any LogHandler

    public init(label: String, level: Level = .info, metadata: Metadata = [:], handler: any LogHandler) {
        self.label = label
        self.logLevel = level
        self.metadata = metadata
        self.handler = handler
    }

    /// Reads or writes one metadata entry.
    public subscript(metadataKey key: String) -> MetadataValue? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The same backend and level under another label (for a subsystem).
    public func withLabel(_ label: String) -> Logger {
        Logger(label: label, level: logLevel, metadata: metadata, handler: handler)
    }

    // MARK: Logging

    /// Whether messages at `level` are emitted.
    @inlinable public func isEnabled(_ level: Level) -> Bool { level >= logLevel }

    @inlinable
    public func log(level: Level, _ message: @autoclosure () -> String, metadata: @autoclosure () -> Metadata? = nil) {
        guard level >= logLevel else { return }
        var merged = self.metadata
        if let extra = metadata() { merged.merge(extra, uniquingKeysWith: { _, new in new }) }
        handler.log(LogRecord(level: level, label: label, message: message(), metadata: merged))
    }

    @inlinable public func trace(_ message: @autoclosure () -> String, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .trace, message(), metadata: metadata())
    }

    @inlinable public func debug(_ message: @autoclosure () -> String, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .debug, message(), metadata: metadata())
    }

    @inlinable public func info(_ message: @autoclosure () -> String, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .info, message(), metadata: metadata())
    }

    @inlinable public func notice(_ message: @autoclosure () -> String, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .notice, message(), metadata: metadata())
    }

    @inlinable public func warning(_ message: @autoclosure () -> String, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .warning, message(), metadata: metadata())
    }

    @inlinable public func error(_ message: @autoclosure () -> String, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .error, message(), metadata: metadata())
    }

    @inlinable public func critical(_ message: @autoclosure () -> String, metadata: @autoclosure () -> Metadata? = nil) {
        log(level: .critical, message(), metadata: metadata())
    }
}

// MARK: - LogRecord

/// One message on its way to a backend.
public struct LogRecord: Sendable {
    public var level: Logger.Level
    public var label: String
    public var message: String
    public var metadata: Logger.Metadata

    public init(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) {
        self.level = level
        self.label = label
        self.message = message
        self.metadata = metadata
    }
}

// MARK: - LogHandler

/// A logging backend: formats records and writes them somewhere.
public protocol LogHandler: Sendable {
    func log(_ record: LogRecord)
}
