import DiscoCore

// MARK: - SnapshotSource

/// A state machine's snapshot as something that writes itself, in parts, to where it is stored:
/// a snapshot is as large as the node's whole state, and joined in one buffer it would cost that
/// much memory again at the moment it is taken.
///
/// The size is known before any byte is written (the snapshot file records it, and a checksum
/// over it, ahead of the data). Writing checks that exactly ``count`` bytes came: more or fewer
/// is an error, and storage keeps the snapshot it had.
public struct SnapshotSource {
    /// The snapshot's exact size in bytes.
    public let count: Int
    private let produce: (_ write: ([UInt8]) throws(RaftError) -> Void) throws(RaftError) -> Void

    /// A snapshot of `count` bytes that `produce` writes by calling `write` with consecutive
    /// parts (any sizes; tens of KiB each keeps memory bounded and system calls few). `produce`
    /// must read a consistent view of the state (a copy-on-write value taken when the source was
    /// made), and must not keep `write`.
    public init(count: Int, produce: @escaping (_ write: ([UInt8]) throws(RaftError) -> Void) throws(RaftError) -> Void) {
        self.count = count
        self.produce = produce
    }

    /// A snapshot already held in one buffer, written as one part.
    public init(_ bytes: [UInt8]) {
        count = bytes.count
        produce = { write throws(RaftError) in try write(bytes) }
    }

    /// Hands every part to `consume`, in order, checking the total against ``count``.
    public func write(to consume: ([UInt8]) throws(RaftError) -> Void) throws(RaftError) {
        var written = 0
        try produce { part throws(RaftError) in
            written += part.count
            guard written <= count else {
                throw RaftError(.invalidArgument, "the snapshot was declared as \(count) bytes, but more were written (\(written) so far)")
            }
            if !part.isEmpty { try consume(part) }
        }
        guard written == count else {
            throw RaftError(.invalidArgument, "the snapshot was declared as \(count) bytes, but only \(written) were written")
        }
    }

    /// The whole snapshot in one buffer (for storage that keeps it in memory, and for tests).
    public func bytes() throws(RaftError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        try write { part throws(RaftError) in bytes.append(contentsOf: part) }
        return bytes
    }
}
