import DiscoNet
import DiscoTestKit
import Synchronization
import Testing

@Suite("OwnedTasks: every task has an owner that outlives it")
struct OwnedTasksTests {
    /// A stream nobody yields to: iterating it returns only when the iterating task is cancelled.
    private static func waitForCancellation() async {
        let (never, continuation) = AsyncStream<Void>.makeStream()
        for await _ in never {}
        withExtendedLifetime(continuation) {}
    }

    @Test("close cancels running tasks and returns only after each has returned")
    func closeCancelsAndAwaits() async throws {
        let owner = OwnedTasks()
        let started = Atomic<Int>(0)
        let returned = Atomic<Int>(0)
        for _ in 0..<3 {
            #expect(owner.spawn {
                started.add(1, ordering: .relaxed)
                await Self.waitForCancellation()
                returned.add(1, ordering: .relaxed)
            })
        }
        try await waitUntil("the three tasks to start") { started.load(ordering: .relaxed) == 3 }
        #expect(owner.count == 3)
        let returnedBeforeClose = returned.load(ordering: .relaxed)
        #expect(returnedBeforeClose == 0)
        await owner.close()
        let returnedAfterClose = returned.load(ordering: .relaxed)
        #expect(returnedAfterClose == 3, "close returned while a task still ran")
        #expect(owner.count == 0)
    }

    @Test("close without cancelling waits for a task to finish on its own")
    func closeWithoutCancellingWaits() async throws {
        let owner = OwnedTasks()
        let release = AsyncStream<Void>.makeStream()
        let finished = Atomic<Bool>(false)
        let sawCancellation = Atomic<Bool>(false)
        owner.spawn {
            for await _ in release.stream { break }
            sawCancellation.store(Task.isCancelled, ordering: .relaxed)
            finished.store(true, ordering: .relaxed)
        }
        try await waitUntil("the task to be running") { owner.count == 1 }
        async let closing: Void = owner.close(cancelling: false)
        try await waitUntil("close to refuse new tasks") { owner.isClosed }
        let finishedBeforeRelease = finished.load(ordering: .relaxed)
        #expect(!finishedBeforeRelease)
        release.continuation.yield()
        await closing
        let finishedAfterClose = finished.load(ordering: .relaxed)
        #expect(finishedAfterClose, "close returned before the task finished")
        let wasCancelled = sawCancellation.load(ordering: .relaxed)
        #expect(!wasCancelled, "close(cancelling: false) cancelled the task")
    }

    @Test("a closed owner starts nothing; finished tasks leave the set")
    func closedOwnerRefusesWork() async throws {
        let owner = OwnedTasks()
        let ran = Atomic<Int>(0)
        #expect(owner.spawn { ran.add(1, ordering: .relaxed) })
        try await waitUntil("the first task to finish and leave the set") { owner.count == 0 && ran.load(ordering: .relaxed) == 1 }
        await owner.close()
        #expect(!owner.spawn { ran.add(1, ordering: .relaxed) })
        #expect(owner.count == 0)
        await owner.close()  // twice is fine
        let runs = ran.load(ordering: .relaxed)
        #expect(runs == 1, "a task started after close")
    }
}
