// MARK: - Writing a response into a caller's buffer

/// Appends big-endian fields and bytes to a caller's buffer. Every write checks the space left;
/// one that does not fit is not made and marks the writer as overflowed (the answerer sizes
/// every response first, so that never happens; the check keeps a mistake from writing past the
/// buffer).
struct WireWriter {
    let base: UnsafeMutableRawBufferPointer
    private(set) var count = 0
    private(set) var overflowed = false

    init(_ base: UnsafeMutableRawBufferPointer) {
        self.base = base
    }

    @inline(__always)
    private mutating func reserve(_ size: Int) -> Bool {
        guard !overflowed, size <= base.count - count else {
            overflowed = true
            return false
        }
        return true
    }

    @inline(__always)
    mutating func u8(_ value: UInt8) {
        guard reserve(1) else { return }
        base[count] = value
        count += 1
    }

    @inline(__always)
    mutating func u16(_ value: UInt16) {
        guard reserve(2) else { return }
        base[count] = UInt8(value >> 8)
        base[count + 1] = UInt8(truncatingIfNeeded: value)
        count += 2
    }

    @inline(__always)
    mutating func u32(_ value: UInt32) {
        u16(UInt16(value >> 16))
        u16(UInt16(truncatingIfNeeded: value))
    }

    /// Copies `bytes`.
    @inline(__always)
    mutating func copy(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty, reserve(bytes.count), let source = bytes.baseAddress, let target = base.baseAddress else { return }
        (target + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    mutating func copy(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { copy($0) }
    }

    /// Overwrites a 16-bit field written earlier.
    mutating func patch16(at offset: Int, _ value: UInt16) {
        guard offset + 2 <= count else {
            overflowed = true
            return
        }
        base[offset] = UInt8(value >> 8)
        base[offset + 1] = UInt8(truncatingIfNeeded: value)
    }
}
