// libFuzzer entry point for the HTTP/1.1 parsers. Built by ./run together with the parser
// sources (Sources/DiscoNet/HTTP/Parser/*.swift and HTTPHeaders.swift), nothing else.
//
// Input layout: byte 0 picks the limits (bit 0: tiny limits to reach every limit path) and the
// number of split points (bits 1-3); the next bytes are split offsets; the rest is the stream.
// Invariants checked:
//   - the parsers never crash and never consume more bytes than they were given
//     (HTTPRequestParser.parseAll traps otherwise);
//   - the outcome (requests, bodies, trailers, error) is identical whether the stream arrives
//     whole, at the chosen split points, or one byte at a time.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let control = bytes.first else { return 0 }
    let splitCount = Int((control >> 1) & 0x7)
    guard bytes.count > 1 + splitCount else { return 0 }
    let input = Array(bytes[(1 + splitCount)...])
    let splits = bytes[1..<(1 + splitCount)].map { input.isEmpty ? 0 : Int($0) * input.count / 256 }.sorted()

    var limits = HTTPParserLimits()
    if control & 1 == 1 {
        limits = HTTPParserLimits(maxRequestLineBytes: 40, maxHeaderBytes: 120, maxHeaderCount: 4,
                                  maxBodyBytes: 64, maxTrailerBytes: 48, maxChunkLineBytes: 16)
    }

    let whole = HTTPRequestParser.parseAll(input, splits: [], limits: limits)
    let split = HTTPRequestParser.parseAll(input, splits: splits, limits: limits)
    precondition(whole == split, "outcome depends on split points \(splits)")
    if input.count <= 512 {
        let bytewise = HTTPRequestParser.parseAll(input, splits: Array(0..<input.count), limits: limits)
        precondition(whole == bytewise, "outcome differs when fed byte by byte")
    }
    precondition(whole.consumed <= input.count, "consumed more than the input")

    // The response parser must also survive anything and respect its input bound.
    for (method, upgrade) in [("GET", false), ("HEAD", false), ("GET", true), ("CONNECT", false)] {
        var parser = HTTPResponseParser(requestMethod: method, limits: limits, allowsProtocolSwitch: upgrade)
        var events: [HTTPResponseParserEvent] = []
        let consumed = input.withUnsafeBufferPointer { buffer in
            (try? parser.parse(buffer, into: &events)) ?? 0
        }
        precondition(consumed <= input.count, "response parser consumed more than the input")
        try? parser.finish(into: &events)
    }
    return 0
}
