// libFuzzer entry point for the gossip opening path: every input is opened as a sealed datagram
// and as a sealed push-pull state under a fixed two-key keyring, and parsed as a keyring file.
// Nothing may crash. Whatever opens must have been sealed with a key of the ring: the fuzzer
// cannot forge a tag, so an input that opens is a failure. Fresh seals of the input must open
// again to the same bytes, and never under the wrong purpose.

let primary = GossipKey(bytes: [UInt8](repeating: 0x11, count: 32))!
let accepted = GossipKey(bytes: [UInt8](repeating: 0x22, count: 32))!
let sealer = SWIM.GossipSealer(keyring: GossipKeyring(primary: primary, accepted: [accepted]), label: "fuzz")
let oldSealer = SWIM.GossipSealer(keyring: GossipKeyring(primary: accepted), label: "fuzz")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGossipEnvelope(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for purpose in SWIM.GossipSealer.Purpose.allCases {
        if case .success = sealer.open(bytes, purpose: purpose) {
            fatalError("an input the fuzzer made opened as \(purpose): \(bytes)")
        }
    }
    // Round trips: sealed with the primary, and with the accepted key (mid-rotation).
    for source in [sealer, oldSealer] {
        guard let envelope = try? source.seal(bytes, purpose: .datagram) else { fatalError("sealing failed") }
        guard case .success(let opened) = sealer.open(envelope, purpose: .datagram), opened.bytes == bytes else {
            fatalError("a sealed input did not open to itself")
        }
        if case .success = sealer.open(envelope, purpose: .pushPull) { fatalError("a datagram opened as a push-pull state") }
        // Flipping one bit anywhere must be detected.
        if !envelope.isEmpty {
            var altered = envelope
            altered[bytes.count % envelope.count] ^= 0x01
            if case .success = sealer.open(altered, purpose: .datagram) { fatalError("an altered envelope opened") }
        }
    }
    _ = try? GossipKeyring.parse(bytes, origin: "fuzz")
    return 0
}
