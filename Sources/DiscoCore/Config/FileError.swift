// MARK: - ProcessEnvironment

/// Access to the process environment and small files. Only the error type lives in this pure
/// module, so readers such as ``DiscoConfigLoader`` can be given any file source; the functions
/// that read the real environment and file system (`value(_:)`, `readFileIfExists(_:limit:)`)
/// are in DiscoSystem.
public enum ProcessEnvironment {
    /// Why a file could not be read.
    public struct FileError: Error, Hashable, Sendable, CustomStringConvertible {
        public let path: String
        public let reason: String

        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }

        public var description: String { "cannot read \(path.debugDescription): \(reason)" }
    }
}
