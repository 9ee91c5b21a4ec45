import Testing
@testable import DiscoCore

@Suite struct MinHeapTests {
    @Test func popsEveryElementInAscendingOrder() {
        var random = DeterministicRandom(seed: 7)
        for size in [0, 1, 2, 3, 17, 1000] {
            let values = (0..<size).map { _ in Int.random(in: -50...50, using: &random) }
            var heap = MinHeap<Int>()
            values.forEach { heap.push($0) }
            #expect(heap.count == size)
            var popped: [Int] = []
            while let next = heap.popMin() { popped.append(next) }
            #expect(popped == values.sorted())
            #expect(heap.isEmpty && heap.min == nil)
        }
    }

    @Test func minTracksInterleavedPushesAndPops() {
        var heap = MinHeap<Int>()
        heap.push(5)
        heap.push(3)
        #expect(heap.min == 3)
        #expect(heap.popMin() == 3)
        heap.push(1)
        heap.push(9)
        #expect(heap.popMin() == 1)
        #expect(heap.popMin() == 5)
        #expect(heap.popMin() == 9)
        #expect(heap.popMin() == nil)
    }

    @Test func filterKeepsHeapOrder() {
        var heap = MinHeap<Int>()
        (0..<100).reversed().forEach { heap.push($0) }
        heap.filter { $0 % 3 == 0 }
        var popped: [Int] = []
        while let next = heap.popMin() { popped.append(next) }
        #expect(popped == Array(stride(from: 0, to: 100, by: 3)))
    }
}
