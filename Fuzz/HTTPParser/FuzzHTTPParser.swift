// libFuzzer entry point for the HTTP/1.1 parsers. Built by ./run together with the parser
// sources (Sources/DiscoNet/HTTP/Parser/*.swift and HTTPHeaders.swift), the client's response
// reader (HTTPClientResponseReader.swift, with stand-ins for what it needs of the client) and
// ResponseCheck.swift.
//
// Input layout: byte 0 picks the limits (bit 0: tiny limits to reach every limit path), the
// number of split points (bits 1-3) and whether the stream's first section repeats (bit 4; bits
// 5-6 pick 15 to 18 copies of it, around the interim-response limit of 16); the next bytes are
// split offsets; the rest is the stream.
// Invariants checked, for requests:
//   - the parser never crashes and never consumes more bytes than it was given
//     (HTTPRequestParser.parseAll traps otherwise);
//   - the outcome (requests, bodies, trailers, error) is identical whether the stream arrives
//     whole, at the chosen split points, or one byte at a time;
//   - every head's target is in origin form (starts with `/`) unless it is `*` (OPTIONS) or a
//     CONNECT's; a head read from an absolute-form target has exactly one `Host`, whose value
//     is a bare `host[:port]` (no byte that could end a field, start a path, or carry userinfo).
// For responses (to GET, HEAD, an upgrade and CONNECT; ResponseCheck):
//   - the same: no crash, never more consumed than given, the same events, error and end whole,
//     split or byte by byte;
//   - interim heads are 1xx other than 101, at most 16, all before the final head; one final
//     head, body and end only after it; nothing after the end; the end of the stream either
//     completes the response or fails it, with a reason and a 4xx/5xx status;
//   - the client's reader hands on every interim head the parser found, in order, then the same
//     final head or the same error.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let control = bytes.first else { return 0 }
    let splitCount = Int((control >> 1) & 0x7)
    guard bytes.count > 1 + splitCount else { return 0 }
    var input = Array(bytes[(1 + splitCount)...])
    if control & 0x10 != 0 {
        input = repeatingFirstSection(input, copies: 15 + Int((control >> 5) & 0x3))
    }
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
    for request in whole.requests { checkTarget(request.head) }

    ResponseCheck.check(input, splits: splits, limits: limits)
    return 0
}

/// The target invariants above, for one parsed head.
private func checkTarget(_ head: HTTPRequestHead) {
    switch head.targetForm {
    case .origin:
        precondition(head.target.utf8.first == UInt8(ascii: "/"), "origin-form target \(head.target.debugDescription)")
    case .asterisk:
        precondition(head.target == "*" && head.method == "OPTIONS", "asterisk-form \(head.method) \(head.target.debugDescription)")
    case .authority:
        precondition(head.method == "CONNECT", "authority-form for \(head.method)")
    case .absolute:
        precondition(head.target.utf8.first == UInt8(ascii: "/"), "absolute-form read as \(head.target.debugDescription)")
        let hosts = head.headers.values(for: "Host")
        precondition(hosts.count == 1, "absolute-form with \(hosts.count) Host fields")
        let forbidden = Set("/?#@ \t\r\n\"\\".utf8)
        precondition(!hosts[0].isEmpty && !hosts[0].utf8.contains(where: { forbidden.contains($0) || $0 < 0x21 || $0 > 0x7E }),
                     "absolute-form authority \(hosts[0].debugDescription)")
    }
}

/// The input with its first section (through the first empty line) written `copies` times.
private func repeatingFirstSection(_ input: [UInt8], copies: Int) -> [UInt8] {
    var end = 0
    for index in input.indices.dropFirst(3)
    where input[index - 3] == 13 && input[index - 2] == 10 && input[index - 1] == 13 && input[index] == 10 {
        end = index + 1
        break
    }
    guard end > 0 else { return input }
    var out: [UInt8] = []
    out.reserveCapacity(end * (copies - 1) + input.count)
    for _ in 1..<copies { out += input[..<end] }
    return out + input
}
