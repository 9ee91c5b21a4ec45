import DiscoCore
import DiscoRaft
import DiscoTestKit
import Dispatch
@testable import NodeRuntime
import Synchronization
import Testing

/// Key-value watches are yielded to under the state machine's lock while their consumers are
/// cancelled on other threads. Swift runs a stream's termination handler under the cancelled
/// task's status lock, which the yield takes as well; a handler that took the state machine's
/// lock deadlocked against `apply`. These tests hammer that interleaving: with the old handler
/// they hang (the poll below then fails after its deadline instead of stalling the suite).
@Suite("Cancelling subscribers while entries are applied")
struct ClusterStateCancellationTests {
    /// Counts what a side thread has done, and tells it to stop.
    final class Progress: Sendable {
        let stop = Atomic<Bool>(false)
        let applied = Atomic<Int>(0)
        let roundsDone = Atomic<Int>(0)
        let started = Atomic<Int>(0)
    }

    static let rounds = 40
    static let watchesPerRound = 40

    /// Applies KV puts on their own thread until `progress.stop`, so a deadlock blocks that
    /// thread and not the test's tasks.
    static func startCommitting(to machine: ClusterStateMachine, _ progress: Progress) throws {
        let entries = try (1...64).map { value in
            try ClusterCommand.kvTransaction(KVTransaction(operations: [.put(KVKey("watched", "k\(value % 8)"), json("\(value)"))])).encode()
        }
        DispatchQueue(label: "commits").async {
            var index: UInt64 = 0
            while !progress.stop.load(ordering: .relaxed) {
                index += 1
                machine.apply(Entry(term: 1, index: index, kind: .normal, data: entries[Int(index % 64)]))
                progress.applied.add(1, ordering: .relaxed)
            }
        }
    }

    /// Cancels `tasks` from another thread (as a dropped HTTP request would), then waits for
    /// the cancellations to return and the tasks to end.
    static func cancelOffThread<T: Sendable>(_ tasks: [Task<T, Never>], round: Int, _ progress: Progress) async throws {
        DispatchQueue(label: "cancel-\(round)").async {
            for task in tasks { task.cancel() }
            progress.roundsDone.add(1, ordering: .relaxed)
        }
        try await waitUntil("round \(round)'s cancellations to return (a lock-order deadlock hangs them)", timeout: .seconds(60)) {
            progress.roundsDone.load(ordering: .relaxed) == round + 1
        }
        for task in tasks { _ = await task.value }
    }

    /// How many elements `stream` yields before it ends.
    static func count<Element>(_ stream: AsyncStream<Element>) async -> Int {
        var seen = 0
        for await _ in stream { seen += 1 }
        return seen
    }

    /// Commits still go on after the rounds (the committer is not stuck), then stop.
    static func expectCommitsContinue(_ progress: Progress) async throws {
        let appliedBefore = progress.applied.load(ordering: .relaxed)
        try await waitUntil("commits to continue after the cancellations", timeout: .seconds(60)) {
            progress.applied.load(ordering: .relaxed) > appliedBefore
        }
        progress.stop.store(true, ordering: .relaxed)
    }

    @Test("KV watches cancelled during a stream of commits end, and every commit completes")
    func cancelWatchesDuringCommits() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        let progress = Progress()
        try Self.startCommitting(to: machine, progress)

        for round in 0..<Self.rounds {
            let consumers = (0..<Self.watchesPerRound).map { _ in
                let watch = machine.watchKeyValues(namespace: "watched", prefix: "")
                return Task {
                    var seen = 0
                    for await _ in watch.changes { seen += 1 }
                    return seen
                }
            }
            // Cancelled while the committer yields to these very consumers.
            try await Self.cancelOffThread(consumers, round: round, progress)
        }
        try await Self.expectCommitsContinue(progress)
        // Every ended watch has been forgotten.
        #expect(machine.subscriptionCounts.watches == 0)
    }

    @Test("a task following a watch while its children long-poll and follow membership can be cancelled during commits")
    func cancelWatchersWithWaitingChildren() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        let progress = Progress()
        try Self.startCommitting(to: machine, progress)
        // More rounds: the nested hang needs a rarer interleaving (seen after 30-40 rounds).
        for round in 0..<(Self.rounds * 2) {
            progress.started.store(0, ordering: .relaxed)
            let followers = (0..<Self.watchesPerRound).map { _ in
                let watch = machine.watchKeyValues(namespace: "watched", prefix: "")
                let membership = machine.changes()
                return Task {
                    // Cancelling this task cancels its children under its own status lock: their
                    // handlers (the long poll's, the membership stream's) run nested in it while
                    // the committer may be yielding to this task.
                    async let poll = machine.waitForEvents(since: 0, limit: 1, timeout: .seconds(3600))
                    async let members = Self.count(membership)
                    progress.started.add(1, ordering: .relaxed)
                    for await _ in watch.changes {}
                    _ = await (poll, members)
                }
            }
            try await waitUntil("round \(round)'s followers to start") { progress.started.load(ordering: .relaxed) == Self.watchesPerRound }
            try await Self.cancelOffThread(followers, round: round, progress)
        }
        try await Self.expectCommitsContinue(progress)
        #expect(machine.waitingCount == 0)
        #expect(machine.subscriptionCounts.changes == 0)
        #expect(machine.subscriptionCounts.watches == 0)
    }

    @Test("an ended watch is forgotten by the next commit, and a live one still gets it")
    func endedWatchIsForgotten() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        let ended = machine.watchKeyValues(namespace: "n", prefix: "")
        let live = machine.watchKeyValues(namespace: "n", prefix: "")
        let consumer = Task { for await _ in ended.changes {} }
        consumer.cancel()
        await consumer.value
        // The termination handler only records the end (it must not take the lock) ...
        #expect(machine.guarded.withLock { $0.keyValueWatchers.count } == 2)
        // ... and the next commit removes the watch before publishing.
        machine.apply(try entry(.kvTransaction(KVTransaction(operations: [.put(KVKey("n", "a"), json("1"))])), index: 1))
        #expect(machine.guarded.withLock { $0.keyValueWatchers.count } == 1)
        var iterator = live.changes.makeAsyncIterator()
        #expect(await iterator.next() == .changed([KVChange(key: KVKey("n", "a"), value: json("1"), revision: 1)]))
    }
}
