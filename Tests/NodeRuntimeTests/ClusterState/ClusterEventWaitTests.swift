import DiscoCore
import DiscoRaft
import DiscoTestKit
@testable import NodeRuntime
import Synchronization
import Testing

@Suite("Long polling the event log")
struct ClusterEventWaitTests {
    func appendEvent(_ machine: ClusterStateMachine, _ value: Int) throws {
        machine.apply(try entry(.appendEvent(timeMillis: Int64(value), data: json("\(value)")), index: machine.appliedIndex + 1))
    }

    @Test("existing events return at once, even with a long timeout")
    func returnsAtOnce() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        try appendEvent(machine, 1)
        try appendEvent(machine, 2)
        let page = await machine.waitForEvents(since: 0, limit: 1, timeout: .seconds(3600))
        let (events, lastSeq) = (page.events, page.lastSeq)
        #expect(events.map(\.seq) == [1])
        #expect(lastSeq == 2)
    }

    /// Long enough that a test passing means the waiter was woken, short enough that a missed
    /// wake-up fails the test instead of hanging it.
    static let wakeTimeout = Duration.seconds(60)

    @Test("a waiter wakes when an event is applied")
    func wakesOnApply() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        try appendEvent(machine, 1)
        let waiter = Task { await machine.waitForEvents(since: 1, limit: 10, timeout: Self.wakeTimeout) }
        try await waitUntil("the waiter to suspend") { machine.waitingCount == 1 }
        try appendEvent(machine, 2)
        let page = await waiter.value
        let (events, lastSeq) = (page.events, page.lastSeq)
        #expect(events.map(\.seq) == [2])
        #expect(lastSeq == 2)
        #expect(machine.waitingCount == 0)
    }

    @Test("a waiter ahead of the log waits until the log passes it")
    func waiterAhead() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        let waiter = Task { await machine.waitForEvents(since: 2, limit: 10, timeout: Self.wakeTimeout) }
        try await waitUntil("the waiter to suspend") { machine.waitingCount == 1 }
        try appendEvent(machine, 1)
        try appendEvent(machine, 2)
        #expect(machine.waitingCount == 1)
        try appendEvent(machine, 3)
        #expect(await waiter.value.events.map(\.seq) == [3])
    }

    @Test("the timeout passing returns no events and the last sequence number")
    func timeoutReturnsEmpty() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        try appendEvent(machine, 1)
        let page = await machine.waitForEvents(since: 1, limit: 10, timeout: .milliseconds(50))
        let (events, lastSeq) = (page.events, page.lastSeq)
        #expect(events.isEmpty)
        #expect(lastSeq == 1)
        #expect(machine.waitingCount == 0)
        let zero = await machine.waitForEvents(since: 1, limit: 10, timeout: .zero)
        #expect(zero.events.isEmpty)
    }

    @Test("a cancelled waiter is removed and returns promptly")
    func cancellation() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        let waiter = Task { await machine.waitForEvents(since: 0, limit: 10, timeout: .seconds(3600)) }
        try await waitUntil("the waiter to suspend") { machine.waitingCount == 1 }
        waiter.cancel()
        // Without working cancellation the waiter would stay registered for an hour.
        try await waitUntil("the cancelled waiter to be removed") { machine.waitingCount == 0 }
        let page = await waiter.value
        let (events, lastSeq) = (page.events, page.lastSeq)
        #expect(events.isEmpty)
        #expect(lastSeq == 0)
        #expect(machine.waitingCount == 0)

        // Already cancelled before calling: returns without registering.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await machine.waitForEvents(since: 0, limit: 10, timeout: .seconds(3600))
        }
        #expect(await early.value.events.isEmpty)
        #expect(machine.waitingCount == 0)
    }

    @Test("200 concurrent waiters all wake on one event")
    func manyWaiters() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<200 {
                group.addTask {
                    let result = await machine.waitForEvents(since: 0, limit: 10, timeout: Self.wakeTimeout)
                    return result.events.map(\.seq)
                }
            }
            try await waitUntil("200 waiters to suspend") { machine.waitingCount == 200 }
            try appendEvent(machine, 1)
            var answers = 0
            for try await seqs in group {
                #expect(seqs == [1])
                answers += 1
            }
            #expect(answers == 200)
        }
        #expect(machine.waitingCount == 0)
    }

    @Test("a reader whose next events were trimmed is answered at once, and told so", .timeLimit(.minutes(1)))
    func trimmedReaderIsNotKeptWaiting() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        for value in 1...4 { try appendEvent(machine, value) }
        machine.apply(try entry(.trimEvents(through: 4), index: 5))
        // Everything is trimmed, so there is nothing to return: a waiter would otherwise sleep
        // an hour instead of learning that it missed events 2…4.
        let page = await machine.waitForEvents(since: 1, limit: 10, timeout: .seconds(3600))
        #expect(page.events.isEmpty)
        #expect(page.firstSeq == 5)
        #expect(page.missedEvents(since: 1))
        #expect(!page.missedEvents(since: 4))
        #expect(!page.missedEvents(since: 0))
        #expect(machine.waitingCount == 0)
    }

    @Test("a restore that brings events wakes waiters")
    func restoreWakes() async throws {
        let source = ClusterStateMachine(logger: memoryLogger())
        try appendEvent(source, 1)
        let machine = ClusterStateMachine(logger: memoryLogger())
        let waiter = Task { await machine.waitForEvents(since: 0, limit: 10, timeout: Self.wakeTimeout) }
        try await waitUntil("the waiter to suspend") { machine.waitingCount == 1 }
        try machine.restore(from: source.takeSnapshot())
        #expect(await waiter.value.events.map(\.seq) == [1])
    }

    @Test("long polls that time out on an idle log are not held until the next event")
    func timedOutWaitersAreForgottenWithoutEvents() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        try appendEvent(machine, 1)
        for _ in 0..<100 {
            _ = await machine.waitForEvents(since: 1, limit: 10, timeout: .milliseconds(1))
        }
        // Read the table itself: `waitingCount` would tidy it first.
        let held = machine.guarded.withLock { $0.waiters.count }
        #expect(held <= 1, "\(held) timed-out waiters are still held")
    }
}
