import DiscoCore
import DiscoTestKit
import Synchronization
import Testing

@Suite("Leaf-locked hand-offs for termination and cancellation handlers")
struct CancellationSafeHandoffTests {
    // MARK: EndedSubscriptions

    @Test("recorded ids are drained once, in order, and removed from a registry")
    func endedSubscriptions() {
        let ended = EndedSubscriptions<Int>()
        #expect(ended.drain().isEmpty)
        ended.record(3)
        ended.record(1)
        #expect(ended.drain() == [3, 1])
        #expect(ended.drain().isEmpty)

        var registry = [1: "a", 2: "b", 3: "c"]
        ended.record(2)
        ended.record(9)  // never registered (or already gone): ignored
        ended.removeEnded(from: &registry)
        #expect(registry == [1: "a", 3: "c"])
        #expect(ended.drain().isEmpty)
    }

    @Test("a termination handler records its stream's end without the owner's lock")
    func recordsFromOnTermination() async {
        let ended = EndedSubscriptions<Int>()
        let owner = Mutex([Int: AsyncStream<Int>.Continuation]())
        var consumers: [Task<Void, Never>] = []
        for id in 0..<20 {
            let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
            owner.withLock { $0[id] = continuation }
            continuation.onTermination = { _ in ended.record(id) }
            consumers.append(Task { for await _ in stream {} })
        }
        for consumer in consumers.enumerated() where consumer.offset.isMultiple(of: 2) { consumer.element.cancel() }
        for consumer in consumers.enumerated() where consumer.offset.isMultiple(of: 2) { await consumer.element.value }
        let live = owner.withLock { registry -> [Int] in
            ended.removeEnded(from: &registry)
            return registry.keys.sorted()
        }
        #expect(live == Array(stride(from: 1, to: 20, by: 2)))
        owner.withLock { registry in registry.values.forEach { $0.finish() } }
        for consumer in consumers { await consumer.value }
    }

    // MARK: OneShotWakeUp

    @Test("a wake-up before the wait lets it return at once; later wake-ups do nothing")
    func wakeBeforeWait() async {
        let wakeUp = OneShotWakeUp()
        #expect(!wakeUp.isWoken)
        wakeUp.wake()
        wakeUp.wake()
        #expect(wakeUp.isWoken)
        var ranBeforeSuspending = false
        await wakeUp.wait { ranBeforeSuspending = true }
        #expect(!ranBeforeSuspending)
    }

    @Test("a wake-up resumes a suspended waiter, and one made before suspending is not lost")
    func wakeAfterWait() async throws {
        let wakeUp = OneShotWakeUp()
        let suspended = Atomic<Bool>(false)
        let waiter = Task {
            await wakeUp.wait { suspended.store(true, ordering: .releasing) }
        }
        try await waitUntil("the waiter to suspend") { suspended.load(ordering: .acquiring) }
        wakeUp.wake()
        await waiter.value

        let immediate = OneShotWakeUp()
        await immediate.wait { immediate.wake() }
    }

    @Test("a cancellation handler wakes the waiter; the event's later wake-up does nothing")
    func wakeFromOnCancel() async throws {
        let wakeUp = OneShotWakeUp()
        let suspended = Atomic<Bool>(false)
        let waiter = Task {
            await withTaskCancellationHandler {
                await wakeUp.wait { suspended.store(true, ordering: .releasing) }
            } onCancel: {
                wakeUp.wake()
            }
            return Task.isCancelled
        }
        try await waitUntil("the waiter to suspend") { suspended.load(ordering: .acquiring) }
        waiter.cancel()
        #expect(await waiter.value)
        wakeUp.wake()
    }
}
