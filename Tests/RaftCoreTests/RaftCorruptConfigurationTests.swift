import DiscoCore
import RaftCore
import Testing

// MARK: - A configuration entry that cannot be decoded stops the node

@Suite("Raft: corrupt configuration entries")
struct RaftCorruptConfigurationTests {
    let a: NodeID = "a", b: NodeID = "b"

    func config(_ voters: [NodeID]) -> [UInt8] { RaftCodec.encode(ClusterConfig(voters: voters)) }
    /// Not a configuration: a version byte no codec knows, then garbage.
    let garbage: [UInt8] = [0xFF, 0x00, 0x13]

    func node(_ id: NodeID, _ state: PersistentState = PersistentState()) throws -> RaftNode {
        try RaftNode(id: id, state: state, random: DeterministicRandom(seed: 7))
    }

    /// The leader `a`'s append of `entries` after index 0, in term 1.
    func append(_ entries: [Entry]) -> Message {
        Message(from: a, to: b, term: 1, body: .append(AppendRequest(prevIndex: 0, prevTerm: 0, entries: entries, commit: 0)))
    }

    @Test("recovered state with an undecodable configuration entry refuses to start, naming the entry")
    func recoveredCorruptEntryRefusesToStart() throws {
        // The newest configuration is valid; the corrupt one is older. Skipping it would start
        // the node on the newer entry: it must not.
        let entries = [Entry(term: 1, index: 1, kind: .config, data: garbage),
                       Entry(term: 1, index: 2, kind: .config, data: config([a, b]))]
        let error = #expect(throws: RaftError.self) {
            _ = try node(a, PersistentState(hardState: HardState(term: 1), entries: entries))
        }
        #expect(error?.code == .corruptConfiguration)
        #expect(error?.message.contains("configuration entry at index 1 (term 1) from storage cannot be decoded") == true, "\(String(describing: error))")
        let valid = [Entry(term: 1, index: 1, kind: .config, data: config([a])), entries[1]]
        #expect(try node(a, PersistentState(hardState: HardState(term: 1), entries: valid)).config.voters == [a, b])
    }

    @Test("a follower sent an undecodable configuration entry halts: nothing appended, acknowledged or sent again")
    func followerHaltsOnCorruptEntryFromLeader() throws {
        var follower = try node(b)
        follower.receive(append([Entry(term: 1, index: 1, kind: .noop), Entry(term: 1, index: 2, kind: .config, data: garbage)]))
        let ready = follower.ready()
        let fault = try #require(ready.fault)
        #expect(fault.code == .corruptConfiguration)
        #expect(fault.message.contains("configuration entry at index 2 (term 1) from leader a cannot be decoded"), "\(fault)")
        #expect(ready.messages.isEmpty && ready.entries.isEmpty && ready.hardState == nil)
        follower.advance(ready)
        #expect(follower.lastIndex == 0, "the batch holding the corrupt entry was not appended")
        #expect(follower.fault == fault)
        #expect(!follower.hasReady, "the fault is handed out once")

        // Every later input is ignored, every request refused with the fault.
        for _ in 0..<50 { follower.tick() }
        follower.campaign()
        follower.receive(append([Entry(term: 1, index: 1, kind: .config, data: config([a, b]))]))
        follower.readIndex(context: 1)
        #expect(!follower.hasReady && follower.lastIndex == 0 && follower.role == .follower)
        #expect(throws: fault) { _ = try follower.propose([1]) }
        #expect(throws: fault) { try follower.transferLeadership(to: a) }
    }

    @Test("the same append with a decodable configuration is appended, acknowledged and takes effect")
    func decodableEntryIsApplied() throws {
        var follower = try node(b)
        follower.receive(append([Entry(term: 1, index: 1, kind: .noop), Entry(term: 1, index: 2, kind: .config, data: config([a, b]))]))
        let ready = follower.ready()
        #expect(ready.fault == nil)
        #expect(ready.entries.map(\.index) == [1, 2])
        #expect(ready.messages.map(\.to) == [a])
        #expect(follower.config.voters == [a, b])
        #expect(follower.configIndex == 2)
    }
}
