// libFuzzer entry point for the SWIM wire codec: every input is decoded as a datagram and as a
// push-pull state. Decoding must never crash; whatever decodes must re-encode to the same
// bytes (the encoding is canonical) and decode back to the same value.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSWIMMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let packet = try? SWIM.WireCodec.decodePacket(bytes) {
        let encoded = SWIM.WireCodec.encode(packet)
        guard encoded == bytes else { fatalError("datagram re-encodes differently: \(bytes) -> \(encoded)") }
        guard (try? SWIM.WireCodec.decodePacket(encoded)) == packet else { fatalError("datagram round trip differs: \(packet)") }
    }
    if let state = try? SWIM.WireCodec.decodePushPull(bytes) {
        let encoded = SWIM.WireCodec.encode(state)
        guard encoded == bytes else { fatalError("push-pull re-encodes differently: \(bytes) -> \(encoded)") }
        guard (try? SWIM.WireCodec.decodePushPull(encoded)) == state else { fatalError("push-pull round trip differs") }
    }
    return 0
}
