// MARK: - LimitReqStateTable

/// The states of one zone: for each key its excess and the time it was last charged, in
/// least-recently-used order, within the zone's byte budget. Every operation is O(1) (expected,
/// for the hash index).
///
/// Layout: states are 56-byte records in one array (keys of up to 16 bytes inline, longer keys
/// in a side array); an open-addressing index (linear probing, 4 bytes a slot, at most 3/4 full)
/// maps keys to records; the LRU order is a doubly linked list through the records. Freed records
/// are reused. The index hashes with Swift's per-process random seed, so clients cannot choose
/// keys that collide; nothing observable depends on the hash order.
///
/// Budget: each state is charged what nginx's slab allocator would give it
/// (``LimitReqZoneBudget/stateBytes(keyLength:)``, 128 bytes for short keys), which is more than
/// it takes here, so real memory stays below the zone's size. A zone's table (``init(zone:)``)
/// also places each state in nginx's pages (``LimitReqSlab``) and has room only where nginx's
/// allocator would.
struct LimitReqStateTable: Sendable {
    /// `last` of a state created for a request that was then rejected by a later limit: nginx
    /// stores time 0 there, so the next request finds it fully drained.
    static let neverCharged = Int64.min
    static let none: Int32 = -1

    struct Record: Sendable {
        /// Key bytes 0..<8 (little-endian), or the index in `longKeys` for keys over 16 bytes.
        var word0: UInt64
        /// Key bytes 8..<16.
        var word1: UInt64
        /// Milliseconds; ``LimitReqStateTable/neverCharged`` before the first charge.
        var last: Int64
        /// Thousandths of a request.
        var excess: Int64
        /// Toward the most recently used end.
        var newer: Int32
        /// Toward the least recently used end.
        var older: Int32
        var hash: UInt32
        var keyLength: UInt16
        /// Where nginx's slab allocator would keep the state (zones with a ``LimitReqSlab``).
        var address: LimitReqSlab.Address
    }

    /// The bytes states may be charged in total.
    let budgetBytes: Int
    private(set) var usedBytes = 0
    private(set) var count = 0

    private(set) var records: [Record] = []
    private var freeRecords: [Int32] = []
    private var longKeys: [[UInt8]] = []
    private var freeLongKeys: [Int32] = []
    /// Record index + 1, or 0 for an empty slot; the count is a power of two.
    private var slots: [UInt32] = Array(repeating: 0, count: 16)
    /// Most and least recently used records.
    private(set) var newest = none
    private(set) var oldest = none

    /// The most states the budget can hold (all with the smallest charge): arrays never grow past it.
    private let maximumStates: Int
    /// The pages states would take in nginx's zone: room is what nginx's allocator has (nil:
    /// only bytes count).
    private var slab: LimitReqSlab?

    /// A table that counts bytes only.
    init(budgetBytes: Int) {
        self.budgetBytes = budgetBytes
        self.maximumStates = max(1, budgetBytes / LimitReqZoneBudget.stateBytes(keyLength: 0))
    }

    /// A zone's table: room as in nginx's zone of the same size and name.
    init(zone: LimitReqZone) {
        self.init(budgetBytes: zone.budget.bytes)
        slab = LimitReqSlab(zoneSize: zone.size, zoneName: zone.name)
    }

    // MARK: Lookup

    /// The record of `key`, without changing the LRU order.
    func find(_ key: RateLimitKey) -> Int32? {
        let isLong = key.bytes.count > RateLimitKey.inlineCapacity
        let (word0, word1) = isLong ? (0, 0) : Self.inlineWords(key.bytes)
        let hash = Self.hash(key, words: (word0, word1))
        let mask = slots.count - 1
        var position = Int(hash) & mask
        while true {
            let slot = slots[position]
            if slot == 0 { return nil }
            let index = Int(slot - 1)
            let record = records[index]
            if record.hash == hash, Int(record.keyLength) == key.bytes.count,
               isLong ? longKeys[Int(record.word0)] == key.bytes : (record.word0 == word0 && record.word1 == word1) {
                return Int32(index)
            }
            position = (position + 1) & mask
        }
    }

    subscript(index: Int32) -> Record {
        get { records[Int(index)] }
        set { records[Int(index)] = newValue }
    }

    /// The key stored in a record.
    func key(of index: Int32) -> RateLimitKey {
        let record = records[Int(index)]
        if Int(record.keyLength) > RateLimitKey.inlineCapacity { return RateLimitKey(longKeys[Int(record.word0)]) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(record.keyLength))
        for offset in 0..<Int(record.keyLength) {
            let word = offset < 8 ? record.word0 : record.word1
            bytes.append(UInt8(truncatingIfNeeded: word >> UInt64((offset % 8) * 8)))
        }
        return RateLimitKey(bytes)
    }

    // MARK: Insertion and removal

    /// Whether a state for a key of `keyLength` bytes fits in the budget now.
    func hasRoom(keyLength: Int) -> Bool {
        let bytes = LimitReqZoneBudget.stateBytes(keyLength: keyLength)
        guard usedBytes + bytes <= budgetBytes else { return false }
        return slab?.canAllocate(bytes: LimitReqZoneBudget.stateHeaderBytes + keyLength) ?? true
    }

    /// Adds a state for `key` (which must be absent and fit) as the most recently used, with
    /// excess 0 and never charged.
    mutating func insert(_ key: RateLimitKey) -> Int32 {
        let hash = Self.hash(key, words: key.bytes.count > RateLimitKey.inlineCapacity ? (0, 0) : Self.inlineWords(key.bytes))
        var record = Record(word0: 0, word1: 0, last: Self.neverCharged, excess: 0, newer: Self.none, older: Self.none,
                            hash: hash, keyLength: UInt16(key.bytes.count),
                            address: slab?.allocate(bytes: LimitReqZoneBudget.stateHeaderBytes + key.bytes.count) ?? .none)
        if key.bytes.count > RateLimitKey.inlineCapacity {
            if let reused = freeLongKeys.popLast() {
                longKeys[Int(reused)] = key.bytes
                record.word0 = UInt64(reused)
            } else {
                Self.reserveGrowth(&longKeys, limit: maximumStates)
                record.word0 = UInt64(longKeys.count)
                longKeys.append(key.bytes)
            }
        } else {
            (record.word0, record.word1) = Self.inlineWords(key.bytes)
        }
        let index: Int32
        if let reused = freeRecords.popLast() {
            index = reused
            records[Int(index)] = record
        } else {
            Self.reserveGrowth(&records, limit: maximumStates)
            index = Int32(records.count)
            records.append(record)
        }
        count += 1
        usedBytes += LimitReqZoneBudget.stateBytes(keyLength: key.bytes.count)
        if count * 4 > slots.count * 3 { growIndex() }
        place(index)
        pushNewest(index)
        return index
    }

    /// Doubles a full array's capacity, but never past `limit` elements, so a zone's arrays stay
    /// within what its budget can hold.
    private static func reserveGrowth<Element>(_ array: inout [Element], limit: Int) {
        guard array.count == array.capacity else { return }
        array.reserveCapacity(max(array.count + 1, min(max(16, array.count * 2), limit)))
    }

    /// Removes a state.
    mutating func remove(_ index: Int32) {
        unlinkFromOrder(index)
        removeFromIndex(index)
        let record = records[Int(index)]
        if record.address != .none { slab?.free(record.address) }
        if Int(record.keyLength) > RateLimitKey.inlineCapacity {
            longKeys[Int(record.word0)] = []
            freeLongKeys.append(Int32(record.word0))
        }
        if freeRecords.count == freeRecords.capacity { freeRecords.reserveCapacity(min(max(16, freeRecords.count * 2), maximumStates)) }
        freeRecords.append(index)
        count -= 1
        usedBytes -= LimitReqZoneBudget.stateBytes(keyLength: Int(record.keyLength))
    }

    // MARK: LRU order

    /// Makes `index` the most recently used state.
    mutating func touch(_ index: Int32) {
        guard newest != index else { return }
        unlinkFromOrder(index)
        pushNewest(index)
    }

    private mutating func pushNewest(_ index: Int32) {
        records[Int(index)].newer = Self.none
        records[Int(index)].older = newest
        if newest != Self.none { records[Int(newest)].newer = index }
        newest = index
        if oldest == Self.none { oldest = index }
    }

    private mutating func unlinkFromOrder(_ index: Int32) {
        let record = records[Int(index)]
        if record.newer != Self.none { records[Int(record.newer)].older = record.older } else { newest = record.older }
        if record.older != Self.none { records[Int(record.older)].newer = record.newer } else { oldest = record.newer }
    }

    // MARK: Hash index

    private mutating func place(_ index: Int32) {
        let mask = slots.count - 1
        var position = Int(records[Int(index)].hash) & mask
        while slots[position] != 0 { position = (position + 1) & mask }
        slots[position] = UInt32(index) + 1
    }

    /// Backward-shift deletion: entries after the hole move back when their probe sequence
    /// passes through it, so lookups never need tombstones.
    private mutating func removeFromIndex(_ index: Int32) {
        let mask = slots.count - 1
        var hole = Int(records[Int(index)].hash) & mask
        while slots[hole] != UInt32(index) + 1 { hole = (hole + 1) & mask }
        var next = (hole + 1) & mask
        while slots[next] != 0 {
            let home = Int(records[Int(slots[next] - 1)].hash) & mask
            if (next - home) & mask >= (next - hole) & mask {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = 0
    }

    private mutating func growIndex() {
        slots = Array(repeating: 0, count: slots.count * 2)
        var index = newest
        while index != Self.none {
            place(index)
            index = records[Int(index)].older
        }
    }

    /// Bytes held by the arrays, counting their capacity, and by long keys.
    var allocatedBytes: Int {
        var bytes = records.capacity * MemoryLayout<Record>.stride + slots.capacity * MemoryLayout<UInt32>.stride
        bytes += freeRecords.capacity * MemoryLayout<Int32>.stride + freeLongKeys.capacity * MemoryLayout<Int32>.stride
        bytes += longKeys.capacity * MemoryLayout<[UInt8]>.stride
        for key in longKeys where !key.isEmpty { bytes += 32 + key.capacity }
        return bytes + (slab?.allocatedBytes ?? 0)
    }

    // MARK: Keys

    /// `words`: the key's inline words (ignored for long keys).
    static func hash(_ key: RateLimitKey, words: (UInt64, UInt64)) -> UInt32 {
        var hasher = Hasher()
        if key.bytes.count > RateLimitKey.inlineCapacity {
            key.bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        } else {
            hasher.combine(words.0)
            hasher.combine(words.1)
        }
        hasher.combine(key.bytes.count)
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }

    static func inlineWords(_ bytes: [UInt8]) -> (UInt64, UInt64) {
        var word0: UInt64 = 0
        var word1: UInt64 = 0
        for (offset, byte) in bytes.enumerated() {
            if offset < 8 { word0 |= UInt64(byte) << UInt64(offset * 8) } else { word1 |= UInt64(byte) << UInt64((offset - 8) * 8) }
        }
        return (word0, word1)
    }
}
