// libFuzzer entry point for the SWIM wire codec: every input is decoded as a datagram and as a
// push-pull state, each with an optional cluster label in front. Decoding must never crash;
// whatever decodes must re-encode to the same bytes (the encoding is canonical, the label
// included) and decode back to the same value.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSWIMMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let (name, packet) = try? SWIM.WireCodec.decodeLabelledPacket(bytes) {
        let encoded = SWIM.WireCodec.encode(packet, label: wireLabel(name))
        guard encoded == bytes else { fatalError("datagram re-encodes differently: \(bytes) -> \(encoded)") }
        guard let again = try? SWIM.WireCodec.decodeLabelledPacket(encoded), again.packet == packet, again.label == name else {
            fatalError("datagram round trip differs: \(packet)")
        }
    }
    if let (name, state) = try? SWIM.WireCodec.decodeLabelledPushPull(bytes) {
        let encoded = SWIM.WireCodec.encode(state, label: wireLabel(name))
        guard encoded == bytes else { fatalError("push-pull re-encodes differently: \(bytes) -> \(encoded)") }
        guard let again = try? SWIM.WireCodec.decodeLabelledPushPull(encoded), again.state == state, again.label == name else {
            fatalError("push-pull round trip differs")
        }
    }
    return 0
}

/// The label a decoded message carried, as the encoder takes it: every label the decoder
/// accepts must be one the encoder can send.
func wireLabel(_ name: String?) -> SWIM.WireLabel? {
    guard let name else { return nil }
    do { return try SWIM.WireLabel(name) } catch { fatalError("decoded label \(name.debugDescription) cannot be encoded: \(error)") }
}
