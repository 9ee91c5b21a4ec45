import DiscoCore
import DiscoRaft
import DiscoTestKit
import Dispatch
@testable import NodeRuntime
import Synchronization
import Testing

/// Key-value watches are yielded to under the state machine's lock while their consumers are
/// cancelled on other threads. Swift runs a stream's termination handler (and a task's
/// cancellation handlers, its children's included) under the cancelled task's status lock, which
/// the yield takes as well; a handler that took the state machine's lock deadlocked against
/// `apply`. These tests race the two, round after round: with such a handler they hang, and the
/// poll then fails after its deadline instead of stalling the suite. Each round's work is
/// bounded so the race does not starve tests running alongside.
@Suite("Cancelling subscribers while entries are applied")
struct ClusterStateCancellationTests {
    /// What the side threads have done.
    final class Progress: Sendable {
        let lastIndex = Atomic<UInt64>(0)
        let burstsDone = Atomic<Int>(0)
        let cancellationsDone = Atomic<Int>(0)
        let started = Atomic<Int>(0)
    }

    static let rounds = 40
    static let watchesPerRound = 40
    static let commitsPerRound = 50
    static let entries: [[UInt8]] = (0..<8).compactMap { value in
        try? ClusterCommand.kvTransaction(KVTransaction(operations: [.put(KVKey("watched", "k\(value)"), json("\(value)"))])).encode()
    }

    /// Applies a burst of KV puts on one thread while `tasks` are cancelled on another (as a
    /// dropped HTTP request would be), then waits for both to return and the tasks to end.
    /// A deadlock blocks those two threads, never the test's tasks.
    static func race<T: Sendable>(_ tasks: [Task<T, Never>], round: Int, on machine: ClusterStateMachine, _ progress: Progress) async throws {
        DispatchQueue(label: "commits-\(round)").async {
            for _ in 0..<commitsPerRound {
                let index = progress.lastIndex.add(1, ordering: .relaxed).newValue
                machine.apply(Entry(term: 1, index: index, kind: .normal, data: entries[Int(index % 8)]))
            }
            progress.burstsDone.add(1, ordering: .relaxed)
        }
        DispatchQueue(label: "cancel-\(round)").async {
            for task in tasks { task.cancel() }
            progress.cancellationsDone.add(1, ordering: .relaxed)
        }
        try await waitUntil("round \(round)'s commits and cancellations to return (a lock-order deadlock hangs them)", timeout: .seconds(60)) {
            progress.burstsDone.load(ordering: .relaxed) == round + 1 && progress.cancellationsDone.load(ordering: .relaxed) == round + 1
        }
        for task in tasks { _ = await task.value }
    }

    /// How many elements `stream` yields before it ends.
    static func count<Element>(_ stream: AsyncStream<Element>) async -> Int {
        var seen = 0
        for await _ in stream { seen += 1 }
        return seen
    }

    @Test("KV watches cancelled during commits end, and every commit completes")
    func cancelWatchesDuringCommits() async throws {
        try #require(Self.entries.count == 8, "the KV entries encode")
        let machine = ClusterStateMachine(logger: memoryLogger())
        let progress = Progress()
        for round in 0..<Self.rounds {
            let consumers = (0..<Self.watchesPerRound).map { _ in
                Task { [watch = machine.watchKeyValues(namespace: "watched", prefix: "")] in await Self.count(watch.changes) }
            }
            try await Self.race(consumers, round: round, on: machine, progress)
        }
        #expect(machine.appliedIndex == UInt64(Self.rounds * Self.commitsPerRound))
        // Every ended watch has been forgotten.
        #expect(machine.subscriptionCounts.watches == 0)
    }

    @Test("a task following a watch while its children long-poll and follow membership can be cancelled during commits")
    func cancelWatchersWithWaitingChildren() async throws {
        try #require(Self.entries.count == 8, "the KV entries encode")
        let machine = ClusterStateMachine(logger: memoryLogger())
        let progress = Progress()
        // More rounds: the nested hang needs a rarer interleaving.
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
                    _ = await Self.count(watch.changes)
                    _ = await (poll, members)
                }
            }
            try await waitUntil("round \(round)'s followers to start") { progress.started.load(ordering: .relaxed) == Self.watchesPerRound }
            try await Self.race(followers, round: round, on: machine, progress)
        }
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
