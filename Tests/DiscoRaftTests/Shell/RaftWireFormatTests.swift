import DiscoCore
import DiscoNet
@testable import DiscoRaft
import Testing

// MARK: - Frames and reassembly (pure)

@Suite("RaftWireFormat")
struct RaftWireFormatTests {
    private func snapshotMessage(size: Int) -> Message {
        let data = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let meta = SnapshotMetadata(index: 10, term: 2, config: ClusterConfig(voters: ["a", "b", "c"]))
        return Message(from: "a", to: "b", term: 2, body: .installSnapshot(Snapshot(metadata: meta, data: data)))
    }

    private func assemble(_ frames: [Frame], maxMessageBytes: Int = RaftWireFormat.defaultMaxMessageBytes) throws(RaftError) -> [Message] {
        var assembler = RaftFrameAssembler(maxMessageBytes: maxMessageBytes)
        var messages: [Message] = []
        for frame in frames {
            if let message = try assembler.accept(frame) { messages.append(message) }
        }
        return messages
    }

    private func failure(_ frames: [Frame], maxMessageBytes: Int = RaftWireFormat.defaultMaxMessageBytes) -> String? {
        do {
            _ = try assemble(frames, maxMessageBytes: maxMessageBytes)
            return nil
        } catch {
            return error.message
        }
    }

    @Test("small messages are one frame; large ones are chunked and reassembled exactly")
    func roundTrip() throws {
        let small = Message(from: "a", to: "b", term: 1, body: .timeoutNow)
        #expect(RaftWireFormat.frames(for: small, chunkSize: 100, transferID: 1).map(\.type) == [RaftWireFormat.messageFrameType])
        let large = snapshotMessage(size: 10_000)
        let frames = RaftWireFormat.frames(for: large, chunkSize: 1000, transferID: 7)
        #expect(frames.count == 11)
        #expect(frames.allSatisfy { $0.type == RaftWireFormat.chunkFrameType && $0.payload.count <= 1000 + RaftWireFormat.chunkHeaderSize })
        #expect(try assemble(frames + RaftWireFormat.frames(for: small, chunkSize: 1000, transferID: 8)) == [large, small])
    }

    @Test("a corrupted chunk fails the checksum")
    func checksum() {
        var frames = RaftWireFormat.frames(for: snapshotMessage(size: 5000), chunkSize: 1000, transferID: 1)
        frames[2].payload[RaftWireFormat.chunkHeaderSize + 10] ^= 0x40
        #expect(failure(frames)?.contains("checksum mismatch") == true)
    }

    @Test("chunks out of order, interleaved, past the total or over the cap are refused")
    func strictChunks() {
        let frames = RaftWireFormat.frames(for: snapshotMessage(size: 5000), chunkSize: 1000, transferID: 1)
        #expect(failure([frames[0], frames[2]])?.contains("expected offset 1000") == true)
        #expect(failure([frames[1]])?.contains("expected offset 0") == true)
        let other = RaftWireFormat.frames(for: snapshotMessage(size: 3000), chunkSize: 1000, transferID: 2)
        #expect(failure([frames[0], other[0]])?.contains("is incomplete") == true)
        let message = Frame(type: RaftWireFormat.messageFrameType,
                            payload: RaftCodec.encode(Message(from: "a", to: "b", term: 1, body: .timeoutNow)))
        #expect(failure([frames[0], message])?.contains("inside chunked transfer") == true)
        #expect(failure(frames, maxMessageBytes: 4000)?.contains("expected 1...4000") == true)
        var long = frames[frames.count - 1]
        long.payload += [1, 2, 3]
        #expect(failure(Array(frames.dropLast()) + [long])?.contains("past the total") == true)
    }

    @Test("unknown frame types and malformed messages are refused with what was expected")
    func unknownFrames() {
        #expect(failure([Frame(type: 9, payload: [])])?.contains("expected 1 (message) or 2 (message chunk)") == true)
        #expect(failure([Frame(type: 1, payload: [2, 1])])?.contains("unsupported message format version 2") == true)
        #expect(failure([Frame(type: 2, payload: [5])])?.contains("chunk version 5") == true)
        #expect(failure([Frame(type: 2, payload: [1, 0, 0])])?.contains("truncated") == true)
    }
}

// MARK: - BatchQueue

@Suite("BatchQueue")
struct BatchQueueTests {
    @Test("drop-oldest keeps the newest within the count and byte bounds")
    func dropOldest() async {
        let queue = BatchQueue<Int>(maxCount: 3, maxBytes: 100, policy: .dropOldest) { $0 }
        #expect(queue.push(10) == 0)
        #expect(queue.push(20) == 0)
        #expect(queue.push(30) == 0)
        #expect(queue.push(5) == 1)       // count bound: 10 goes
        #expect(queue.push(70) == 2)      // byte bound: 20 and 30 go
        #expect(await queue.next() == [5, 70])
        #expect(queue.pushFront([1, 2, 3, 4]) == 1)
        #expect(queue.takeAll() == [2, 3, 4])
    }

    @Test("refuse-new refuses beyond the bound except forced pushes; close drains then ends")
    func refuseNew() async {
        let queue = BatchQueue<Int>(maxCount: 2, policy: .refuseNew)
        #expect(queue.push(1) == 0)
        #expect(queue.push(2) == 0)
        #expect(queue.push(3) == 1)
        #expect(queue.push(4, force: true) == 0)
        queue.close()
        #expect(queue.push(5, force: true) == 1)
        #expect(await queue.next() == [1, 2, 4])
        #expect(await queue.next() == nil)
    }

    @Test("a waiting consumer wakes for a push and for close")
    func waiting() async {
        let queue = BatchQueue<Int>()
        async let first = queue.next()
        await Task.yield()
        queue.push(7)  // before or after the consumer waits: both must deliver
        #expect(await first == [7])
        async let second = queue.next()
        queue.close()
        #expect(await second == nil)
    }

}
