import DiscoCore
import DiscoRaft
import DiscoTestKit
@testable import NodeRuntime
import Testing

@Suite("Cluster state snapshots written in parts")
struct ClusterStateSnapshotPartsTests {
    /// A machine with a cluster, members, idempotency keys and `count` events of about 1 KB.
    func machine(events count: Int) throws -> ClusterStateMachine {
        let machine = ClusterStateMachine(logger: memoryLogger())
        machine.apply(try entry(.initialize(cluster: "prod", epoch: 3), index: 1))
        machine.apply(try entry(.upsertMember(member("n1")), index: 2))
        machine.apply(try entry(.upsertMember(member("n2", port: 5002)), index: 3))
        machine.apply(try entry(.appendEventOnce(timeMillis: 1, key: "k1", data: json("\"once\"")), index: 4))
        for position in 0..<count {
            let data = json("\"" + String(repeating: "e", count: 1000 + position % 7) + "\"")
            machine.apply(try entry(.appendEvent(timeMillis: Int64(position), data: data), index: UInt64(5 + position)))
        }
        return machine
    }

    /// Every part the source writes, checking the parts' sizes.
    func written(by source: SnapshotSource) throws -> [[UInt8]] {
        var parts: [[UInt8]] = []
        try source.write { part throws(RaftError) in parts.append(part) }
        return parts
    }

    @Test("the parts join into the one-buffer snapshot, none much larger than the part size, and restore the state")
    func partsJoinIntoTheSnapshot() throws {
        let machine = try machine(events: 300)
        let state = machine.state
        let source = state.snapshotSource(partSize: 8192)
        let parts = try written(by: source)
        let joined = parts.flatMap { $0 }
        #expect(joined == state.snapshotBytes())
        #expect(joined.count == source.count)
        #expect(parts.count >= 300 * 1000 / 9000, "\(parts.count) parts")
        // A part ends at the first event that takes it to the part size: at most one event more.
        #expect(parts.allSatisfy { $0.count < 8192 + 1100 }, "\(parts.map(\.count))")
        #expect(try ClusterState(snapshot: joined) == state)
        // The machine's own source is the same snapshot, in parts of the default size.
        let machineParts = try written(by: machine.snapshotSource())
        #expect(machineParts.flatMap { $0 } == joined)
        #expect(machineParts.allSatisfy { $0.count < ClusterState.snapshotPartSize + 1100 })
    }

    @Test("a source taken before more entries apply writes the state as it was when taken")
    func sourceIsAConsistentView() throws {
        let machine = try machine(events: 40)
        let before = machine.state
        let source = machine.snapshotSource()
        machine.apply(try entry(.appendEvent(timeMillis: 99, data: json("\"later\"")), index: 100))
        machine.apply(try entry(.trimEvents(through: 20), index: 101))
        #expect(machine.appliedIndex == 101)
        let bytes = try written(by: source).flatMap { $0 }
        #expect(bytes.count == source.count)
        #expect(try ClusterState(snapshot: bytes) == before)
    }
}
