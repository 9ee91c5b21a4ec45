// Fuzz entry point for the Raft frame decoder: every input must either decode or be refused with
// an error, never crash; whatever decodes must re-encode to the same bytes. The same input is
// also read as an internode byte stream (frames, chunk reassembly) as the transport does.
import DiscoNet
import DiscoRaft

@_cdecl("LLVMFuzzerTestOneInput")
public func raftFrameFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let message = try? RaftCodec.decodeMessage(bytes) {
        let encoded = RaftCodec.encode(message)
        if encoded != bytes { fatalError("message re-encodes differently") }
        if (try? RaftCodec.decodeMessage(encoded)) != message { fatalError("message round trip failed") }
    }
    if let entry = try? RaftCodec.decodeEntry(bytes), RaftCodec.encode(entry) != bytes {
        fatalError("entry re-encodes differently")
    }
    if let snapshot = try? RaftCodec.decodeSnapshot(bytes), (try? RaftCodec.decodeSnapshot(RaftCodec.encode(snapshot))) != snapshot {
        fatalError("snapshot round trip failed")
    }
    _ = try? RaftCodec.decodeHardState(bytes)
    _ = try? RaftCodec.decodeConfig(bytes)
    var frames = FrameDecoder(maxPayloadBytes: 4096)
    var assembler = RaftFrameAssembler(maxMessageBytes: 1 << 16)
    frames.append(bytes)
    while let frame = try? frames.next() {
        let completed: Message?
        do {
            completed = try assembler.accept(frame)
        } catch {
            break  // the transport closes the connection here
        }
        if let message = completed, (try? RaftCodec.decodeMessage(RaftCodec.encode(message))) != message {
            fatalError("reassembled message round trip failed")
        }
    }
    return 0
}
