// libFuzzer entry point for the in-place recogniser of simple request heads
// (HTTPSimpleRequestHead.recognise). Built by ./run with the parser sources.
//
// Input layout: byte 0 picks the limits (bit 0: tiny limits); the rest is what the receive
// buffer held.
// Invariant checked (SimpleHeadCheck): the recogniser never crashes, and whenever it takes a
// head, the general parser accepts the same bytes as one complete head without a body, of the
// same length, method, target (in origin form) and version, with the same fields in order and the same
// `Connection: close`.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequestHead(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let control = bytes.first else { return 0 }
    var limits = HTTPParserLimits()
    if control & 1 == 1 {
        limits = HTTPParserLimits(maxRequestLineBytes: 40, maxHeaderBytes: 120, maxHeaderCount: 4,
                                  maxBodyBytes: 64, maxTrailerBytes: 48, maxChunkLineBytes: 16)
    }
    if let problem = SimpleHeadCheck.check(Array(bytes.dropFirst()), limits: limits).problem {
        preconditionFailure(problem)
    }
    return 0
}
