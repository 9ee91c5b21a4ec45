import DiscoCore

// MARK: - ProbeOrder

extension SWIM {
    /// Randomized round-robin over member slots: each pass visits every slot once in a random
    /// order, then the order is reshuffled. Slots added during a pass are inserted at a random
    /// position among the slots not yet visited, so every member is probed within two passes
    /// (time-bounded completeness).
    ///
    /// Up to `shuffleLimit` slots the order is a Fisher–Yates shuffle; beyond, it is a random
    /// affine permutation `(a·i + b) mod n` with `gcd(a, n) = 1`, which needs no storage.
    struct ProbeOrder: Sendable {
        static let shuffleLimit = 4096

        private var passLength = 0
        private var position = 0
        private var shuffled: [Int32] = []
        private var stride = 1
        private var offset = 0
        /// Slots added during this pass: (position they are due at, slot), sorted by position.
        private var insertions: [(position: Int, slot: Int)] = []

        init() {}

        /// Next slot to consider, or nil when the pass is over (call `reshuffle`).
        mutating func next() -> Int? {
            if let first = insertions.first, first.position <= position {
                insertions.removeFirst()
                return first.slot
            }
            guard position < passLength else { return nil }
            defer { position += 1 }
            if !shuffled.isEmpty { return Int(shuffled[position]) }
            return (stride &* position &+ offset) % passLength
        }

        /// Starts a new pass over slots `0..<slotCount`.
        mutating func reshuffle(slotCount: Int, random: inout DeterministicRandom) {
            passLength = slotCount
            position = 0
            insertions = []
            shuffled = []
            guard slotCount > 0 else { return }
            if slotCount <= Self.shuffleLimit {
                shuffled = (0..<Int32(slotCount)).map { $0 }
                shuffled.shuffle(using: &random)
            } else {
                offset = Int.random(in: 0..<slotCount, using: &random)
                repeat { stride = Int.random(in: 1..<slotCount, using: &random) } while gcd(stride, slotCount) != 1
            }
        }

        /// Schedules a slot created after the pass began at a random not-yet-visited position.
        mutating func insert(slot: Int, random: inout DeterministicRandom) {
            let due = Int.random(in: position...max(position, passLength), using: &random)
            let index = insertions.firstIndex { $0.position > due } ?? insertions.count
            insertions.insert((due, slot), at: index)
        }

        /// Forgets the current pass (slots were renumbered).
        mutating func invalidate() {
            passLength = 0
            position = 0
            insertions = []
            shuffled = []
        }

        private func gcd(_ a: Int, _ b: Int) -> Int {
            var (x, y) = (a, b)
            while y != 0 { (x, y) = (y, x % y) }
            return x
        }
    }
}
