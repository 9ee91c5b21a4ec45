// MARK: - FencedBackend

/// The resource the hot replica protects: it remembers the highest fencing token it has seen
/// and rejects writes that carry a lower one (Kleppmann's fencing check).
public struct FencedBackend: Sendable {
    /// The highest token accepted so far.
    public private(set) var highest: UInt64 = 0
    /// Writes accepted and rejected.
    public private(set) var accepted = 0
    public private(set) var rejected = 0

    public init() {}

    /// Handles a write carrying `token`; true when accepted.
    public mutating func write(token: UInt64) -> Bool {
        guard token >= highest else {
            rejected += 1
            return false
        }
        highest = token
        accepted += 1
        return true
    }
}
