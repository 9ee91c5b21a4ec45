import DiscoCore
import DiscoRaft
import DiscoTestKit
@testable import NodeRuntime
import Synchronization
import Testing

@Suite("Cluster state machine")
struct ClusterStateMachineTests {
    @Test("entries apply in order and their results are remembered by index")
    func appliesAndRemembers() throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        machine.apply(try entry(.initialize(cluster: "prod", epoch: 3), index: 2))
        machine.apply(try entry(.upsertMember(member("n1")), index: 3))
        machine.apply(try entry(.appendEvent(timeMillis: 9, data: json("[1]")), index: 5))
        #expect(machine.cluster == "prod")
        #expect(machine.epoch == 3)
        #expect(machine.members == [member("n1")])
        #expect(machine.member("n1") == member("n1"))
        #expect(machine.appliedIndex == 5)
        #expect(machine.result(at: 5) == .eventAppended(seq: 1))
        #expect(machine.result(at: 2) == .initialized(cluster: "prod", epoch: 3))
        #expect(machine.result(at: 4) == nil)
        let page = machine.events(since: 0, limit: 10)
        let (events, lastSeq) = (page.events, page.lastSeq)
        #expect(lastSeq == 1)
        #expect(events == [ClusterEvent(seq: 1, index: 5, timeMillis: 9, data: json("[1]"))])
    }

    @Test("an undecodable entry is skipped, counted and logged; application goes on")
    func undecodableSkipped() throws {
        let logs = MemoryLogSink()
        let machine = ClusterStateMachine(logger: memoryLogger(logs))
        machine.apply(Entry(term: 1, index: 1, data: [9, 9, 9]))
        machine.apply(Entry(term: 1, index: 2, data: []))
        machine.apply(try entry(.appendEvent(timeMillis: 1, data: json("true")), index: 3))
        #expect(machine.undecodableEntries == 2)
        #expect(machine.appliedIndex == 3)
        #expect(machine.lastSeq == 1)
        guard case .ignored(let reason) = machine.result(at: 1) else {
            Issue.record("expected an ignored result at index 1, found \(String(describing: machine.result(at: 1)))")
            return
        }
        #expect(reason.contains("unsupported-version"))
        #expect(logs.lines.contains { $0.contains("skipping undecodable entry 1") })
    }

    @Test("results are kept for a bounded number of recent indexes")
    func boundedResults() throws {
        let machine = ClusterStateMachine(logger: memoryLogger(), recentResultCapacity: 4)
        for index in UInt64(1)...10 {
            machine.apply(try entry(.appendEvent(timeMillis: 0, data: json("\(index)")), index: index * 3))
        }
        #expect(machine.result(at: 18) == nil)
        #expect(machine.result(at: 21) == .eventAppended(seq: 7))
        #expect(machine.result(at: 30) == .eventAppended(seq: 10))
        #expect(machine.result(at: 31) == nil)
        var ring = RecentApplyResults(capacity: 3)
        for index in UInt64(1)...7 { ring.record(.eventAppended(seq: index), at: index) }
        ring.record(.eventAppended(seq: 99), at: 6)  // not above the last: ignored
        #expect(ring.count == 3)
        #expect((1...7).map { ring.result(at: UInt64($0)) } == [nil, nil, nil, nil, .eventAppended(seq: 5), .eventAppended(seq: 6), .eventAppended(seq: 7)])
    }

    @Test("snapshot and restore move the whole state; a corrupt snapshot is refused and changes nothing")
    func snapshotRestore() throws {
        let source = ClusterStateMachine(logger: memoryLogger())
        source.apply(try entry(.initialize(cluster: "prod", epoch: 1), index: 1))
        source.apply(try entry(.upsertMember(member("n1")), index: 2))
        source.apply(try entry(.appendEvent(timeMillis: 1, data: json("1")), index: 3))
        let snapshot = source.takeSnapshot()

        let target = ClusterStateMachine(logger: memoryLogger())
        target.apply(try entry(.appendEvent(timeMillis: 1, data: json("\"other\"")), index: 1))
        var corrupt = snapshot
        corrupt[corrupt.count - 1] ^= 0xFF
        #expect(throws: ClusterCodingError.self) { try target.restore(from: corrupt) }
        #expect(target.lastSeq == 1)
        #expect(target.state.events.first?.data == json("\"other\""))

        try target.restore(from: snapshot)
        #expect(target.state == source.state)
        target.apply(try entry(.appendEvent(timeMillis: 2, data: json("2")), index: 4))
        #expect(target.result(at: 4) == .eventAppended(seq: 2))
    }

    @Test("membership changes and restores are published in order; events are not")
    func changesStream() async throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        var changes: AsyncStream<ClusterStateChange>? = machine.changes()
        machine.apply(try entry(.initialize(cluster: "c", epoch: 1), index: 1))
        machine.apply(try entry(.appendEvent(timeMillis: 1, data: json("1")), index: 2))
        machine.apply(try entry(.upsertMember(member("n1")), index: 3))
        machine.apply(try entry(.removeMember("n9"), index: 4))
        machine.apply(try entry(.removeMember("n1"), index: 5))
        try machine.restore(from: ClusterState().snapshotBytes())
        var received: [ClusterStateChange] = []
        if let stream = changes {
            for await change in stream {
                received.append(change)
                if received.count == 4 { break }
            }
        }
        #expect(received == [
            .applied(index: 1, .initialized(cluster: "c", epoch: 1)),
            .applied(index: 3, .memberUpdated(member("n1"), previous: nil)),
            .applied(index: 5, .memberRemoved(member("n1"))),
            .restored(appliedIndex: 0),
        ])
        changes = nil  // dropping the stream ends the subscription
        #expect(changes == nil)
        try await waitUntil("the finished subscriber to be dropped") {
            machine.subscriptionCounts.changes == 0
        }
    }
}
