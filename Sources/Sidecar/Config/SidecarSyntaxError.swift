// MARK: - SidecarSyntaxError

/// Why a sidecar value is wrong, naming what would be right.
public struct SidecarSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
