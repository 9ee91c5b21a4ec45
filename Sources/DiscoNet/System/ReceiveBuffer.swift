// MARK: - A growable receive buffer

/// Bytes received but not yet consumed, in one contiguous allocation that the kernel reads into
/// directly. Owned by one connection on one loop thread (not Sendable).
final class ReceiveBuffer {
    private var storage: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    private var start = 0
    private var end = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        storage = .allocate(capacity: self.capacity)
    }

    deinit { storage.deallocate() }

    /// Unconsumed bytes.
    var count: Int { end - start }

    var readable: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: storage + start, count: end - start) }

    func consume(_ n: Int) {
        assert(n >= 0 && n <= end - start, "consumed \(n) of \(end - start) unconsumed bytes")
        start += n
        if start == end {
            start = 0
            end = 0
        }
    }

    func removeAll() {
        start = 0
        end = 0
    }

    /// Free space to read into: compacts, then grows up to `maxCapacity`. Nil when full.
    func writableSpace(maxCapacity: Int) -> UnsafeMutableRawBufferPointer? {
        if end == capacity, start > 0 {
            let live = end - start
            (storage).update(from: storage + start, count: live)
            start = 0
            end = live
        }
        if end == capacity {
            guard capacity < maxCapacity else { return nil }
            let grown = min(maxCapacity, capacity * 2)
            let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
            fresh.initialize(from: storage, count: end)
            storage.deallocate()
            storage = fresh
            capacity = grown
        }
        return UnsafeMutableRawBufferPointer(start: storage + end, count: capacity - end)
    }

    func didWrite(_ n: Int) { end += n }

    /// Doubles the capacity (up to `maxCapacity`) keeping the unconsumed bytes: for a reader
    /// whose reads keep filling all the free space (a body arriving faster than one buffer).
    func grow(maxCapacity: Int) {
        guard capacity < maxCapacity else { return }
        let grown = min(maxCapacity, capacity * 2)
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        let live = end - start
        fresh.initialize(from: storage + start, count: live)
        storage.deallocate()
        storage = fresh
        capacity = grown
        start = 0
        end = live
    }
}
