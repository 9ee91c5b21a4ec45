import DiscoCore
@testable import RaftCore
import DiscoTestKit
import Testing

// MARK: - Codec

@Suite("Raft codec")
struct RaftCodecTests {
    static let config = ClusterConfig(voters: ["n1", "n2", "n3"], learners: ["n4"])
    static let snapshot = Snapshot(metadata: SnapshotMetadata(index: 40, term: 3, config: config), data: [1, 2, 3])
    static let bodies: [MessageBody] = [
        .preVote(lastIndex: 10, lastTerm: 2),
        .preVoteResponse(granted: true),
        .vote(lastIndex: 10, lastTerm: 2, transfer: true),
        .voteResponse(granted: false),
        .append(AppendRequest(prevIndex: 4, prevTerm: 2, entries: [
            Entry(term: 2, index: 5, kind: .normal, data: [9, 9]),
            Entry(term: 2, index: 6, kind: .config, data: RaftCodec.encode(config)),
            Entry(term: 3, index: 7, kind: .noop),
        ], commit: 5)),
        .appendResponse(AppendResponse(accepted: false, index: 9, conflictTerm: 2, conflictIndex: 4)),
        .heartbeat(commit: 8, context: 77),
        .heartbeatResponse(context: 77),
        .installSnapshot(snapshot),
        .timeoutNow,
    ]

    static var messages: [Message] { bodies.map { Message(from: "n1", to: "n2", term: 3, body: $0) } }

    func messageError(_ bytes: [UInt8]) -> RaftError? {
        do {
            _ = try RaftCodec.decodeMessage(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test("every message kind round-trips")
    func roundTrip() throws {
        for message in Self.messages {
            #expect(try RaftCodec.decodeMessage(RaftCodec.encode(message)) == message)
        }
    }

    @Test("every truncation of every message is refused with a clear error")
    func truncatedInputRefused() {
        for message in Self.messages {
            let bytes = RaftCodec.encode(message)
            for length in 0..<bytes.count {
                #expect(throws: RaftError.self) { try RaftCodec.decodeMessage(Array(bytes.prefix(length))) }
            }
        }
        let error = messageError(Array(RaftCodec.encode(Self.messages[0]).prefix(10)))
        #expect(error?.code == .malformedFrame)
        #expect(error?.message.contains("truncated") == true)
    }

    @Test("trailing bytes, unknown versions, types and kinds are refused and named")
    func strictDecoder() {
        let bytes = RaftCodec.encode(Self.messages[0])
        #expect(throws: RaftError.self) { try RaftCodec.decodeMessage(bytes + [0]) }
        var badVersion = bytes
        badVersion[0] = 9
        #expect(messageError(badVersion)?.message.contains("version 9") == true)
        var badType = bytes
        badType[1] = 200
        #expect(messageError(badType)?.message.contains("unknown type 200") == true)
        var entry = RaftCodec.encode(Entry(term: 1, index: 1))
        entry[16] = 7
        var entryError: RaftError?
        do { _ = try RaftCodec.decodeEntry(entry) } catch { entryError = error }
        #expect(entryError?.message.contains("unknown kind 7") == true)
        var badBool = RaftCodec.encode(Message(from: "a", to: "b", term: 1, body: .voteResponse(granted: true)))
        badBool[badBool.count - 1] = 2
        #expect(throws: RaftError.self) { try RaftCodec.decodeMessage(badBool) }
    }

    @Test("oversized counts and lengths are refused before allocating")
    func oversizedRefused() {
        var writer = ByteWriter()
        writer.u8(RaftCodec.version)
        writer.u8(5)  // append
        writer.nodeID("n1")
        writer.nodeID("n2")
        writer.u64(1)
        writer.u64(0); writer.u64(0); writer.u64(0)
        writer.u32(UInt32.max)  // entry count
        #expect(messageError(writer.bytes)?.message.contains("entry count") == true)
        var entry = ByteWriter()
        entry.u64(1); entry.u64(1); entry.u8(0); entry.u32(UInt32.max)
        #expect(throws: RaftError.self) { try RaftCodec.decodeEntry(entry.bytes) }
    }

    @Test("invalid node IDs are refused")
    func invalidNodeID() {
        var writer = ByteWriter()
        writer.u8(RaftCodec.version)
        writer.u8(10)
        writer.u16(3)
        writer.bytes += Array("a b".utf8)
        writer.nodeID("n2")
        writer.u64(1)
        #expect(throws: RaftError.self) { try RaftCodec.decodeMessage(writer.bytes) }
    }

    @Test("hard state, configuration and snapshot round-trip")
    func otherTypesRoundTrip() throws {
        let hard = HardState(term: 9, vote: "n3", commit: 100)
        #expect(try RaftCodec.decodeHardState(RaftCodec.encode(hard)) == hard)
        #expect(try RaftCodec.decodeHardState(RaftCodec.encode(HardState())) == HardState())
        #expect(try RaftCodec.decodeConfig(RaftCodec.encode(Self.config)) == Self.config)
        #expect(try RaftCodec.decodeSnapshot(RaftCodec.encode(Self.snapshot)) == Self.snapshot)
    }

    @Test("random bytes never crash the decoder")
    func randomBytes() async {
        // Off the cooperative pool: 5,000 decodes take a while in a debug build.
        await CPUBoundWork.runTest {
            var random = DeterministicRandom(seed: 99)
            let valid = Self.messages.map(RaftCodec.encode)
            for round in 0..<5_000 {
                var bytes = valid[round % valid.count]
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    let position = Int.random(in: 0..<bytes.count, using: &random)
                    bytes[position] = UInt8.random(in: 0...255, using: &random)
                }
                _ = try? RaftCodec.decodeMessage(bytes)
            }
        }
    }
}

extension RaftCodecTests {
    @Test("a configuration must be in canonical form (sorted, unique members)")
    func canonicalConfig() {
        var writer = ByteWriter()
        writer.u32(2)
        writer.nodeID("n2")
        writer.nodeID("n1")
        writer.u32(0)
        #expect(throws: RaftError.self) { try RaftCodec.decodeConfig(writer.bytes) }
        var duplicate = ByteWriter()
        duplicate.u32(1)
        duplicate.nodeID("n1")
        duplicate.u32(1)
        duplicate.nodeID("n1")
        #expect(throws: RaftError.self) { try RaftCodec.decodeConfig(duplicate.bytes) }
    }
}
