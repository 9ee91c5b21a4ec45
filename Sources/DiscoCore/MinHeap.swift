// MARK: - MinHeap

/// A binary min-heap: `push` and `popMin` in O(log n), `min` in O(1). Used for timer deadlines
/// on event loops and for the simulator's timeline; elements that compare equal come out in no
/// particular order, so callers that need stable order add a sequence number to the key.
public struct MinHeap<Element: Comparable> {
    private var storage: [Element] = []

    public init() {}

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }
    /// The smallest element.
    public var min: Element? { storage.first }
    /// Every element, in heap (not sorted) order.
    public var unordered: [Element] { storage }

    public mutating func push(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child] < storage[parent] else { return }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the smallest element.
    public mutating func popMin() -> Element? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let smallest = storage.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var candidate = parent
            if left < storage.count, storage[left] < storage[candidate] { candidate = left }
            if right < storage.count, storage[right] < storage[candidate] { candidate = right }
            if candidate == parent { return smallest }
            storage.swapAt(parent, candidate)
            parent = candidate
        }
    }

    /// Keeps only the elements for which `keep` is true.
    public mutating func filter(_ keep: (Element) -> Bool) {
        let kept = storage.filter(keep)
        guard kept.count != storage.count else { return }
        storage = []
        for element in kept { push(element) }
    }
}
