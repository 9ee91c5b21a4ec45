// MARK: - LimitReqSlab

/// Where a zone's states would live in nginx 1.22's slab allocator (64-bit Linux, 4 KiB pages),
/// so that a zone refuses, keeps and forgets exactly the states nginx's zone of the same size
/// does, whatever the lengths of their keys.
///
/// nginx keeps each state in a chunk of its size class (a power of two from 128 to 2048 bytes)
/// inside a page that holds chunks of that class only, or in whole pages above 2 KiB. So a byte
/// count is not enough: a page of 128-byte chunks with one state left in it cannot hold a
/// 256-byte state, and the zone's own head (128 bytes) takes a page even when no state is of
/// its class. The rules followed here are nginx's:
///
/// - A chunk of a class comes from the first page on the class's list of pages with a free
///   chunk (the lowest free chunk of it); a page that fills up leaves the list. With no such
///   page, a free page is taken and becomes the list's only page.
/// - A freed chunk puts its page back at the head of the list if it was full; a page whose last
///   chunk is freed becomes a free page again.
/// - Free pages are runs of adjacent pages on a list. A run of k pages comes from the first
///   run on the list with at least k pages (its first k pages; the rest stays in its place).
///   Freed pages join the free runs before and after them, and the run goes to the list's head.
/// - At the start the zone's head (80 bytes) takes a 128-byte chunk, and the zone's log text
///   (22 bytes plus its name) a chunk of its class (a page of its own below 128 bytes).
public struct LimitReqSlab: Sendable {
    /// Where one allocation lives: `page` and, for chunks, `chunk`; `pages` > 0 for whole pages.
    public struct Address: Hashable, Sendable {
        public let page: Int32
        public let chunk: Int16
        public let pages: Int16

        /// No allocation.
        public static let none = Address(page: -1, chunk: 0, pages: 0)
    }

    static let pageSize = 4096
    static let maximumChunk = 2048
    static let smallestStateClass = 7
    static let none: Int32 = -1
    /// `slotPrevious` of a page that is on no class list.
    static let offList: Int32 = -2

    /// Usable pages.
    public let pages: Int
    /// Runs of free pages, in list order.
    private var freeRuns: [(start: Int32, count: Int32)] = []
    /// Per page touched so far: the class shift of its chunks (0: not a chunk page), the used
    /// chunks, and its neighbours on its class's list.
    private var shift: [UInt8] = []
    private var used: [UInt32] = []
    private var slotNext: [Int32] = []
    private var slotPrevious: [Int32] = []
    /// The first page of each class's list, by shift (7...11).
    private var slotHead: [Int32] = Array(repeating: none, count: 12)

    /// A zone of `zoneSize` bytes named `zoneName`, with its head and log text allocated.
    public init(zoneSize: Int, zoneName: String) {
        pages = LimitReqZoneBudget.pages(zoneSize: zoneSize)
        if pages > 0 { freeRuns = [(0, Int32(pages))] }
        _ = allocate(bytes: LimitReqZoneBudget.zoneHeaderBytes)
        let logBytes = LimitReqZoneBudget.logTextBytes + zoneName.utf8.count
        if logBytes <= 64 {
            // A class below 128 bytes: a page of its own, kept for good.
            _ = allocatePages(1)
        } else {
            _ = allocate(bytes: logBytes)
        }
    }

    // MARK: Allocating

    /// Whether `bytes` could be allocated now.
    public func canAllocate(bytes: Int) -> Bool {
        if bytes > Self.maximumChunk {
            let needed = Int32(Self.pagesFor(bytes))
            return freeRuns.contains { $0.count >= needed }
        }
        return slotHead[Self.shiftFor(bytes)] != Self.none || !freeRuns.isEmpty
    }

    /// Allocates `bytes` as nginx would, or returns nil when nginx's allocation fails.
    public mutating func allocate(bytes: Int) -> Address? {
        if bytes > Self.maximumChunk {
            let count = Self.pagesFor(bytes)
            guard let page = allocatePages(count) else { return nil }
            return Address(page: page, chunk: 0, pages: Int16(count))
        }
        let classShift = Self.shiftFor(bytes)
        let perPage = Self.pageSize >> classShift
        let full = UInt32(truncatingIfNeeded: (UInt64(1) << UInt64(perPage)) - 1)
        let head = slotHead[classShift]
        if head != Self.none {
            let index = Int(head)
            let chunk = (~used[index]).trailingZeroBitCount
            used[index] |= UInt32(1) << UInt32(chunk)
            if used[index] == full { unlink(head, shift: classShift) }
            return Address(page: head, chunk: Int16(chunk), pages: 0)
        }
        guard let page = allocatePages(1) else { return nil }
        shift[Int(page)] = UInt8(classShift)
        used[Int(page)] = 1
        pushHead(page, shift: classShift)
        return Address(page: page, chunk: 0, pages: 0)
    }

    /// Frees an allocation made by ``allocate(bytes:)``.
    public mutating func free(_ address: Address) {
        if address.pages > 0 {
            freePages(address.page, count: Int32(address.pages))
            return
        }
        let index = Int(address.page)
        let classShift = Int(shift[index])
        if slotPrevious[index] == Self.offList { pushHead(address.page, shift: classShift) }
        used[index] &= ~(UInt32(1) << UInt32(address.chunk))
        guard used[index] == 0 else { return }
        unlink(address.page, shift: classShift)
        shift[index] = 0
        freePages(address.page, count: 1)
    }

    /// Bytes the page bookkeeping holds (for the memory figures).
    public var allocatedBytes: Int { shift.capacity + (used.capacity + slotNext.capacity + slotPrevious.capacity) * 4 + freeRuns.capacity * 8 }

    // MARK: Pages

    private mutating func allocatePages(_ count: Int) -> Int32? {
        let needed = Int32(count)
        guard let position = freeRuns.firstIndex(where: { $0.count >= needed }) else { return nil }
        let run = freeRuns[position]
        if run.count > needed {
            freeRuns[position] = (run.start + needed, run.count - needed)
        } else {
            freeRuns.remove(at: position)
        }
        let last = Int(run.start) + count
        if shift.count < last {
            let grow = last - shift.count
            shift.append(contentsOf: repeatElement(0, count: grow))
            used.append(contentsOf: repeatElement(0, count: grow))
            slotNext.append(contentsOf: repeatElement(Self.none, count: grow))
            slotPrevious.append(contentsOf: repeatElement(Self.offList, count: grow))
        }
        return run.start
    }

    private mutating func freePages(_ start: Int32, count: Int32) {
        var start = start
        var count = count
        if let next = freeRuns.firstIndex(where: { $0.start == start + count }) {
            count += freeRuns[next].count
            freeRuns.remove(at: next)
        }
        if let previous = freeRuns.firstIndex(where: { $0.start + $0.count == start }) {
            start = freeRuns[previous].start
            count += freeRuns[previous].count
            freeRuns.remove(at: previous)
        }
        freeRuns.insert((start, count), at: 0)
    }

    // MARK: Class lists

    private mutating func pushHead(_ page: Int32, shift classShift: Int) {
        let head = slotHead[classShift]
        slotNext[Int(page)] = head
        slotPrevious[Int(page)] = Self.none
        if head != Self.none { slotPrevious[Int(head)] = page }
        slotHead[classShift] = page
    }

    private mutating func unlink(_ page: Int32, shift classShift: Int) {
        let index = Int(page)
        guard slotPrevious[index] != Self.offList else { return }
        let next = slotNext[index]
        let previous = slotPrevious[index]
        if previous == Self.none { slotHead[classShift] = next } else { slotNext[Int(previous)] = next }
        if next != Self.none { slotPrevious[Int(next)] = previous }
        slotNext[index] = Self.none
        slotPrevious[index] = Self.offList
    }

    // MARK: Sizes

    /// The class shift of a chunk of `bytes` (≤ 2048): 7 for up to 128 bytes, … 11 for 2048.
    static func shiftFor(_ bytes: Int) -> Int {
        var classShift = smallestStateClass
        while (1 << classShift) < bytes { classShift += 1 }
        return classShift
    }

    static func pagesFor(_ bytes: Int) -> Int { (bytes + pageSize - 1) / pageSize }
}
