// Fuzz entry point for the replicated cluster state's codecs: every input must decode as a
// command or be refused with an error, never crash; whatever decodes must re-encode to the same
// bytes. The input is also read as a whole snapshot and, framed with a valid header and
// checksum, as a snapshot body (so the fuzzer reaches past the checksum); a snapshot that
// restores must re-encode to a snapshot that restores to the same state.
@_cdecl("LLVMFuzzerTestOneInput")
public func clusterCommandFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let command = try? ClusterCommand.decode(bytes) {
        guard let encoded = try? command.encode() else { fatalError("decoded command does not encode: \(command)") }
        if encoded != bytes { fatalError("command re-encodes differently: \(command)") }
    }
    checkSnapshot(bytes)
    checkSnapshot(framedSnapshot(body: bytes))
    return 0
}

private func checkSnapshot(_ bytes: [UInt8]) {
    guard let state = try? ClusterState(snapshot: bytes) else { return }
    let encoded = state.snapshotBytes()
    if encoded != bytes { fatalError("snapshot re-encodes differently") }
    if (try? ClusterState(snapshot: encoded)) != state { fatalError("snapshot round trip failed") }
    if state.lastSeq != UInt64(state.events.count) || state.events.enumerated().contains(where: { $0.element.seq != UInt64($0.offset + 1) }) {
        fatalError("restored sequence numbers are not dense")
    }
}

/// `body` behind a version-1 snapshot header, followed by its CRC-32C.
private func framedSnapshot(body: [UInt8]) -> [UInt8] {
    var writer = ClusterByteWriter()
    writer.bytes = ClusterState.snapshotMagic
    writer.u8(ClusterState.snapshotVersion)
    writer.u64(UInt64(body.count))
    writer.bytes += body
    writer.u32(CRC32C.checksum(writer.bytes))
    return writer.bytes
}
