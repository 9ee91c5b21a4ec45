import DiscoCore
import DiscoTestKit
@testable import NodeRuntime
import Testing

/// The leader's memory of cursors waiting to be deleted, with time a test advances by hand.
@Suite struct CursorCollectionStateTests {
    static let idle = Duration.seconds(3600)
    static let gone = [KVEntry(key: KVKey(Node.eventCursorNamespace, "dns/gone"), value: Array("3".utf8), created: 3, revision: 7)]

    static func look(_ state: inout CursorCollectionState, term: UInt64, done: Set<NodeID> = []) -> [KVEntry] {
        state.look(gone, term: term, firstSeq: 10, removedConsumers: [], done: done, idle: idle).deletions
    }

    /// Within one term an unchanged unneeded cursor goes after the idle period; a look in
    /// another term (another leader before it, or this node leading again) starts it afresh,
    /// so a new leader waits a full idle period.
    @Test func anotherTermWaitsAFullIdlePeriod() {
        let clock = ManualNow()
        var state = CursorCollectionState()
        state.now = { clock.elapsed }
        #expect(Self.look(&state, term: 2).isEmpty)
        clock.advance(by: Self.idle)
        #expect(Self.look(&state, term: 3).isEmpty, "a new term deleted what the last one had waited on")
        #expect(state.sightings[Self.gone[0].key]?.since == Self.idle)
        clock.advance(by: Self.idle - .seconds(1))
        #expect(Self.look(&state, term: 3).isEmpty)
        clock.advance(by: .seconds(1))
        #expect(Self.look(&state, term: 3) == Self.gone)
        #expect(state.sightings.isEmpty)
    }

    /// Removed members whose cursors are all gone are looked for no more.
    @Test func removedMembersWithoutCursorsAreForgotten() {
        var state = CursorCollectionState()
        state.removedMembers = ["n4", "n5"]
        _ = Self.look(&state, term: 1, done: ["n4"])
        #expect(state.removedMembers == ["n5"])
    }
}
