import DiscoCore
import DiscoRaft
@testable import NodeRuntime
import Testing

// MARK: - Member generations in the replicated state

@Suite("Member generations")
struct MemberGenerationTests {
    static let old = ClusterMember(id: "n1", raftAddress: "127.0.0.1:4002", apiAddress: "127.0.0.1:4001", voter: true, generation: 5)
    static let new = ClusterMember(id: "n1", raftAddress: "127.0.0.1:5002", apiAddress: "127.0.0.1:5001", voter: true, generation: 6)

    @Test("an upsert of an older generation committed after a newer one leaves the newer address")
    func olderGenerationIsIgnored() {
        var state = ClusterState()
        #expect(state.apply(.upsertMember(Self.old), index: 1) == .memberUpdated(Self.old, previous: nil))
        #expect(state.apply(.upsertMember(Self.new), index: 2) == .memberUpdated(Self.new, previous: Self.old))
        // The old upsert replayed (or still in flight) commits later, at a higher index.
        #expect(state.apply(.upsertMember(Self.old), index: 3)
            == .ignored(reason: "stale record of member n1: generation 5 is below the recorded 6"))
        #expect(state.members["n1"] == Self.new)
        #expect(state.appliedIndex == 3)
        // A record from before generations (0) does not move it either.
        var legacy = Self.old
        legacy.generation = 0
        #expect(state.apply(.upsertMember(legacy), index: 4)
            == .ignored(reason: "stale record of member n1: generation 0 is below the recorded 6"))
        #expect(state.members["n1"]?.raftAddress == "127.0.0.1:5002")
    }

    @Test("equal generations apply (voter, key and roles changes of the same start); a removed member starts over")
    func equalGenerationApplies() {
        var state = ClusterState()
        _ = state.apply(.upsertMember(Self.new), index: 1)
        var promoted = Self.new
        promoted.voter = false
        promoted.roles = ["dns"]
        #expect(state.apply(.upsertMember(promoted), index: 2) == .memberUpdated(promoted, previous: Self.new))
        _ = state.apply(.removeMember("n1"), index: 3)
        #expect(state.apply(.upsertMember(Self.old), index: 4) == .memberUpdated(Self.old, previous: nil))
        // Generation 0 records of a cluster from before generations keep replacing each other.
        var zero = ClusterState()
        let first = member("n2", port: 4002), moved = member("n2", port: 4102)
        _ = zero.apply(.upsertMember(first), index: 1)
        #expect(zero.apply(.upsertMember(moved), index: 2) == .memberUpdated(moved, previous: first))
    }

    @Test("every node applying the same log reaches the same member, whatever order the upserts commit in")
    func orderIndependent() {
        for order in [[Self.old, Self.new], [Self.new, Self.old], [Self.new, Self.old, Self.old], [Self.old, Self.old, Self.new]] {
            var state = ClusterState()
            for (position, record) in order.enumerated() { _ = state.apply(.upsertMember(record), index: UInt64(position + 1)) }
            #expect(state.members["n1"] == Self.new, "\(order.map(\.generation))")
        }
    }

    @Test("generations survive a snapshot, and the rule holds after restoring one")
    func snapshotKeepsGenerations() throws {
        var state = ClusterState()
        _ = state.apply(.upsertMember(Self.new), index: 1)
        var restored = try ClusterState(snapshot: state.snapshotBytes())
        #expect(restored.members["n1"]?.generation == 6)
        #expect(restored == state)
        _ = restored.apply(.upsertMember(Self.old), index: 2)
        #expect(restored.members["n1"] == Self.new)
    }

    @Test("version 4 snapshots (before generations) are read as generation 0")
    func versionFourSnapshot() throws {
        var writer = ClusterByteWriter()
        writer.bool(false)
        writer.u64(9)
        writer.u32(1)
        ClusterMember(id: "n1", raftAddress: "a:1", apiAddress: "a:2", voter: true, roles: ["dns"]).encode(into: &writer, withGeneration: false)
        writer.u64(0)  // trimmedThrough
        writer.u64(0)  // events
        writer.u32(0)  // idempotency keys
        writer.u32(0)  // key-value entries
        let state = try ClusterState(snapshot: ClusterStateTests().wrap(writer.bytes, version: 4))
        #expect(state.members["n1"] == ClusterMember(id: "n1", raftAddress: "a:1", apiAddress: "a:2", voter: true, roles: ["dns"]))
        #expect(state.members["n1"]?.generation == 0)
        // A version 5 body that ends where the member's generation belongs: refused, naming it.
        var cut = ClusterByteWriter()
        cut.bool(false)
        cut.u64(9)
        cut.u32(1)
        ClusterMember(id: "n1", raftAddress: "a:1", apiAddress: "a:2", voter: true).encode(into: &cut, withGeneration: false)
        let error = ClusterStateTests().snapshotError(ClusterStateTests().wrap(cut.bytes, version: 5))
        #expect(error?.field == "members[0].generation", "\(String(describing: error))")
    }

    @Test("the Raft state machine keeps the newer member when an old upsert commits after it")
    func stateMachineIgnoresStaleEntry() throws {
        let machine = ClusterStateMachine(logger: memoryLogger())
        machine.apply(try entry(.upsertMember(Self.new), index: 1))
        machine.apply(try entry(.upsertMember(Self.old), index: 2))
        #expect(machine.member("n1") == Self.new)
        #expect(machine.appliedIndex == 2)
    }
}
