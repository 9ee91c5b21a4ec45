import DiscoCore

// MARK: - MemberTable

extension SWIM {
    /// The members an instance knows, stored in fixed-size chunks of slots.
    ///
    /// Chunks and the base index are copy-on-write and shared between copies of a table, and a
    /// change copies only the chunk it touches. So many instances started from one snapshot
    /// (a simulation of thousands of members, or a restored state) share almost all storage.
    struct MemberTable: Sendable {
        static let chunkSize = 64

        private var chunks: [[Member?]] = []
        /// Slot of each member when the table was last compacted (shared, rarely rebuilt).
        private var baseIndex: [NodeID: Int] = [:]
        /// Slots of members added since (checked first).
        private var addedIndex: [NodeID: Int] = [:]
        /// Base members since removed.
        private var removedFromBase: Set<NodeID> = []
        /// Number of slots, occupied or vacant.
        private(set) var slotCount = 0
        /// Number of occupied slots.
        private(set) var count = 0
        /// Incremented whenever slots are renumbered (compaction).
        private(set) var layoutGeneration = 0

        init() {}

        /// Slot holding `id`, if known.
        func slot(of id: NodeID) -> Int? {
            if let slot = addedIndex[id] { return slot }
            if removedFromBase.contains(id) { return nil }
            return baseIndex[id]
        }

        subscript(id: NodeID) -> Member? {
            guard let slot = slot(of: id) else { return nil }
            return self[slot: slot]
        }

        /// The member in `slot`, or nil when the slot is vacant.
        subscript(slot slot: Int) -> Member? {
            get { chunks[slot / Self.chunkSize][slot % Self.chunkSize] }
        }

        /// Replaces a known member's record (same id).
        mutating func update(_ member: Member) {
            guard let slot = slot(of: member.id) else { return }
            chunks[slot / Self.chunkSize][slot % Self.chunkSize] = member
        }

        /// Adds a member not yet known; returns its slot.
        @discardableResult
        mutating func insert(_ member: Member) -> Int {
            if let existing = slot(of: member.id) {
                update(member)
                return existing
            }
            let slot = slotCount
            if slot % Self.chunkSize == 0 {
                var chunk: [Member?] = []
                chunk.reserveCapacity(Self.chunkSize)
                chunks.append(chunk)
            }
            chunks[slot / Self.chunkSize].append(member)
            slotCount += 1
            count += 1
            addedIndex[member.id] = slot
            return slot
        }

        /// Forgets a member; its slot becomes vacant. Compacts when most slots are vacant.
        mutating func remove(_ id: NodeID) {
            guard let slot = slot(of: id) else { return }
            chunks[slot / Self.chunkSize][slot % Self.chunkSize] = nil
            if addedIndex.removeValue(forKey: id) == nil { removedFromBase.insert(id) }
            count -= 1
            let vacant = slotCount - count
            if vacant >= Self.chunkSize, vacant * 2 > slotCount { compact() }
        }

        /// Renumbers slots densely and folds the overlays into a new base index.
        mutating func compact() {
            var members: [Member] = []
            members.reserveCapacity(count)
            for chunk in chunks { for case let member? in chunk { members.append(member) } }
            self = MemberTable(members, layoutGeneration: layoutGeneration + 1)
        }

        init(_ members: [Member], layoutGeneration: Int = 0) {
            self.layoutGeneration = layoutGeneration
            var index: [NodeID: Int] = [:]
            index.reserveCapacity(members.count)
            var chunk: [Member?] = []
            for member in members where index[member.id] == nil {
                index[member.id] = slotCount
                chunk.append(member)
                slotCount += 1
                if chunk.count == Self.chunkSize {
                    chunks.append(chunk)
                    chunk = []
                }
            }
            if !chunk.isEmpty { chunks.append(chunk) }
            count = slotCount
            baseIndex = index
        }

        /// All members in slot order.
        var all: [Member] {
            var result: [Member] = []
            result.reserveCapacity(count)
            for chunk in chunks { for case let member? in chunk { result.append(member) } }
            return result
        }
    }
}
