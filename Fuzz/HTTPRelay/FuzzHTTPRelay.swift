// libFuzzer entry point for the relay's recogniser of whole, simple responses
// (HTTPRelayedResponse.recognise). Built by ./run with the parser sources.
//
// Input layout: byte 0 picks the limits (bit 0: tiny limits) and whether Date is kept (bit 1);
// the rest is what one read from the upstream returned.
// Invariants checked: the recogniser never crashes; whenever it relays, the general parser
// accepts the same bytes as exactly one complete response with the same status, reason and body,
// a keep-alive connection, and the same fields in order (minus Content-Length and Connection,
// and those the filter drops), values as the parser trims them.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRelay(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let control = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    var limits = HTTPParserLimits()
    if control & 1 == 1 {
        limits = HTTPParserLimits(maxRequestLineBytes: 40, maxHeaderBytes: 120, maxHeaderCount: 4,
                                  maxBodyBytes: 64, maxTrailerBytes: 48, maxChunkLineBytes: 16)
    }
    let keepsDate = control & 2 == 2
    RelayCheck.check(input, limits: limits, keepsDate: keepsDate)
    return 0
}
