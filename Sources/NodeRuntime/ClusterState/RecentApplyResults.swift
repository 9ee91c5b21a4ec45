// MARK: - RecentApplyResults

/// The results of the most recently applied entries, by Raft index, in bounded memory: a ring
/// of the last `capacity` results, searched by binary search (indexes only grow).
struct RecentApplyResults: Sendable {
    private struct Slot: Sendable {
        var index: UInt64
        var result: ApplyResult
    }

    let capacity: Int
    private var slots: [Slot] = []
    /// Position of the oldest slot once the ring is full.
    private var head = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { slots.count }

    private func slot(_ position: Int) -> Slot { slots[(head + position) % slots.count] }

    /// Records the result at `index`; ignored unless `index` is above every recorded one.
    mutating func record(_ result: ApplyResult, at index: UInt64) {
        if !slots.isEmpty, slot(slots.count - 1).index >= index { return }
        if slots.count < capacity {
            slots.append(Slot(index: index, result: result))
        } else {
            slots[head] = Slot(index: index, result: result)
            head = (head + 1) % capacity
        }
    }

    /// The result recorded at `index`, or nil when it was never recorded or has been evicted.
    func result(at index: UInt64) -> ApplyResult? {
        var low = 0
        var high = slots.count
        while low < high {
            let middle = (low + high) / 2
            let candidate = slot(middle)
            if candidate.index == index { return candidate.result }
            if candidate.index < index { low = middle + 1 } else { high = middle }
        }
        return nil
    }
}
