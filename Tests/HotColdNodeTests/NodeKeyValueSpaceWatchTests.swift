import DiscoCore
import HotCold
import NodeRuntime
import Testing
@testable import HotColdNode

/// How the lease's space reads a node's key-value watch.
@Suite struct NodeKeyValueSpaceWatchTests {
    static func entry(_ name: String, _ revision: UInt64) -> KVEntry {
        KVEntry(key: KVKey("hot-cold", name), value: Array(name.utf8), created: revision, revision: revision)
    }

    /// A reset (the node installed a snapshot) replaces the watched entries: one it no longer
    /// holds — a candidacy withdrawn while this node was behind — is reported deleted, so the
    /// grantor stops counting that replica. Before, a reset only re-put the entries it held.
    @Test func aResetReportsTheEntriesItNoLongerHoldsAsDeleted() {
        var translator = WatchTranslator()
        let first = translator.start([Self.entry("candidate/6/orders/a", 3), Self.entry("candidate/6/orders/b", 4)])
        #expect(first.count == 2)
        let events = translator.events(for: .reset(entries: [Self.entry("candidate/6/orders/a", 3)], revision: 90))
        #expect(events.contains(.deleted(name: "candidate/6/orders/b", revision: 90)), "b's withdrawn candidacy was kept: \(events)")
        #expect(events.contains(.put(LeaseKeyValueEntry(name: "candidate/6/orders/a", value: Array("candidate/6/orders/a".utf8), revision: 3))))
        #expect(translator.present == ["candidate/6/orders/a"])
    }

    /// Puts and deletions pass through as they are, and a later reset knows what they left.
    @Test func changesPassThroughAndAResetAfterThemKnowsWhatIsThere() {
        var translator = WatchTranslator()
        _ = translator.start([])
        let put = translator.events(for: .changed([KVChange(key: KVKey("hot-cold", "candidate/6/orders/c"), value: [1], revision: 7)]))
        #expect(put == [.put(LeaseKeyValueEntry(name: "candidate/6/orders/c", value: [1], revision: 7))])
        let deleted = translator.events(for: .changed([KVChange(key: KVKey("hot-cold", "candidate/6/orders/c"), value: nil, revision: 8)]))
        #expect(deleted == [.deleted(name: "candidate/6/orders/c", revision: 8)])
        #expect(translator.events(for: .reset(entries: [], revision: 9)).isEmpty)
    }
}
