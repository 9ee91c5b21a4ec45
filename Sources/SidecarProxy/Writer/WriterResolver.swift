import DiscoCore
import DiscoNet
import Sidecar
import Synchronization

// MARK: - Finding the writer

/// Where writes go: the cluster's writer as this sidecar knows it right now. The Raft leader's
/// sidecar today; the hot replica once hot/cold exists (another implementation).
public protocol WriterResolver: Sendable {
    /// The writer, without waiting (the proxy asks on every write).
    var current: WriterLocation { get }
}

/// A writer that never changes (tests, and a sidecar that is its own writer).
public struct FixedWriter: WriterResolver {
    public let current: WriterLocation
    public init(_ location: WriterLocation) { current = location }
}
