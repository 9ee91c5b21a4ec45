// MARK: - Many small pieces appended to a byte buffer in one append

/// A cursor over a scratch buffer that small pieces (literals, field names and values) are
/// copied into with no per-piece uniqueness or capacity check: an `Array.append(contentsOf:)`
/// costs about a hundred instructions before its copy, and a request head is written from a
/// dozen or more pieces. Made only by ``Swift/Array/appendWriting(atMost:_:)``, which bounds
/// what may be written.
public struct ByteWriter {
    @usableFromInline var cursor: UnsafeMutablePointer<UInt8>
    @usableFromInline let end: UnsafeMutablePointer<UInt8>

    @usableFromInline
    init(base: UnsafeMutablePointer<UInt8>, count: Int) {
        cursor = base
        end = base + count
    }

    /// Copies `bytes`. The caller's bound must cover them: writing past it traps.
    @inlinable @inline(__always)
    public mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        precondition(end - cursor >= bytes.count, "ByteWriter: more bytes than its bound")
        cursor.update(from: source, count: bytes.count)
        cursor += bytes.count
    }

    /// Copies a literal's bytes.
    @inlinable @inline(__always)
    public mutating func write(_ text: StaticString) {
        text.withUTF8Buffer { write($0) }
    }

    /// Copies a string's UTF-8 bytes.
    @inlinable @inline(__always)
    public mutating func write(_ text: String) {
        text.withBorrowedUTF8 { write($0) }
    }

    /// Writes one byte.
    @inlinable @inline(__always)
    public mutating func write(_ byte: UInt8) {
        precondition(cursor < end, "ByteWriter: more bytes than its bound")
        cursor.initialize(to: byte)
        cursor += 1
    }
}

extension Array where Element == UInt8 {
    /// Appends what `body` writes, at most `bound` bytes, with one append: the pieces are copied
    /// into scratch space (on the stack when small) through a ``ByteWriter``.
    @inlinable
    public mutating func appendWriting(atMost bound: Int, _ body: (inout ByteWriter) -> Void) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Swift.max(bound, 1)) { scratch in
            guard let base = scratch.baseAddress else { return }
            var writer = ByteWriter(base: base, count: scratch.count)
            body(&writer)
            append(contentsOf: UnsafeBufferPointer(start: base, count: base.distance(to: writer.cursor)))
        }
    }
}
