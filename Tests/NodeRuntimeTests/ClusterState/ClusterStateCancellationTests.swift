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
    }

    static let rounds = 40
    static let watchesPerRound = 40

    @Test("KV watches cancelled during a stream of commits end, and every commit completes")
    func cancelWatchesDuringCommits() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        let progress = Progress()
        let entries = try (1...64).map { value in
            try ClusterCommand.kvTransaction(KVTransaction(operations: [.put(KVKey("watched", "k\(value % 8)"), json("\(value)"))])).encode()
        }

        // Commits run on their own thread, so a deadlock blocks it and not the test's tasks.
        let committer = DispatchQueue(label: "commits")
        committer.async {
            var index: UInt64 = 0
            while !progress.stop.load(ordering: .relaxed) {
                index += 1
                machine.apply(Entry(term: 1, index: index, kind: .normal, data: entries[Int(index % 64)]))
                progress.applied.add(1, ordering: .relaxed)
            }
        }

        for round in 0..<Self.rounds {
            let consumers = (0..<Self.watchesPerRound).map { _ in
                let watch = machine.watchKeyValues(namespace: "watched", prefix: "")
                return Task {
                    var seen = 0
                    for await _ in watch.changes { seen += 1 }
                    return seen
                }
            }
            // Cancel from another thread while the committer yields to these very consumers.
            let canceller = DispatchQueue(label: "cancel-\(round)")
            canceller.async {
                for consumer in consumers { consumer.cancel() }
                progress.roundsDone.add(1, ordering: .relaxed)
            }
            try await waitUntil("round \(round)'s cancellations to return (a lock-order deadlock hangs them)", timeout: .seconds(60)) {
                progress.roundsDone.load(ordering: .relaxed) == round + 1
            }
            for consumer in consumers { _ = await consumer.value }
        }

        let appliedBefore = progress.applied.load(ordering: .relaxed)
        try await waitUntil("commits to continue after the cancellations", timeout: .seconds(60)) {
            progress.applied.load(ordering: .relaxed) > appliedBefore
        }
        progress.stop.store(true, ordering: .relaxed)
        // Every ended watch has been forgotten.
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
