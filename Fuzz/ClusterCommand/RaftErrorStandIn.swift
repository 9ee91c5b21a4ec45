// MARK: - RaftError, as far as the snapshot writer needs it

/// Stands in for RaftCore's `RaftError` (whose file needs the rest of the Raft core) in this
/// harness: `SnapshotSource`, which `ClusterState+Snapshot.swift` uses, throws it.
public struct RaftError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable {
        public let rawValue: String
        public static let invalidArgument = Code(rawValue: "invalid-argument")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
