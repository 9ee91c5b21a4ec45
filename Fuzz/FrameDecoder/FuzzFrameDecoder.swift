// libFuzzer entry point for the internode frame decoder, built by ./run with
// Sources/DiscoNet/Framing/Frame.swift only.
//
// Input: byte 0 is a split stride (1...256); the rest is the stream. Invariants: never crash;
// decoding byte-by-byte, in strides, or whole gives the same frames and the same error; every
// decoded frame re-encodes to exactly the bytes it came from.

private struct Outcome: Equatable {
    var frames: [Frame] = []
    var error: FrameError?
    var truncated = false
}

private func decode(_ input: [UInt8], stride: Int) -> Outcome {
    var decoder = FrameDecoder(maxPayloadBytes: 300)
    var outcome = Outcome()
    var index = 0
    while index < input.count {
        let end = min(input.count, index + stride)
        decoder.append(input[index..<end])
        index = end
        do {
            while let frame = try decoder.next() { outcome.frames.append(frame) }
        } catch {
            outcome.error = error
            return outcome
        }
    }
    do { try decoder.finish() } catch { outcome.truncated = true }
    return outcome
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    let whole = decode(input, stride: max(1, input.count))
    precondition(decode(input, stride: Int(first) + 1) == whole, "outcome depends on split points")
    precondition(decode(input, stride: 1) == whole, "outcome differs byte by byte")
    let reencoded = whole.frames.flatMap { $0.encoded() }
    precondition(Array(input.prefix(reencoded.count)) == reencoded, "frames do not re-encode to their input")
    return 0
}
