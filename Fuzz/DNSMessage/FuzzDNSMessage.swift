// libFuzzer entry point for the DNS message codec (Sources/DiscoDNSMessage/*.swift, compiled in
// directly). Any input must either parse or throw DNSMessageError. Whatever parses must encode,
// with and without name compression, and parse back to the same message (unless it no longer
// fits 65535 bytes); encoded for a 512-byte UDP answer it must still parse, with TC set whenever
// an answer or authority record was left out; and a response built to it must encode.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDNSMessage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = try? DNSMessage.parseHeader(bytes)
    guard let message = try? DNSMessage(parsing: bytes) else { return 0 }
    for compression in [true, false] {
        let encoded: [UInt8]
        do {
            encoded = try message.encoded(compression: compression)
        } catch where error.code == .tooLarge {
            continue  // pointers can make a parsed message expand past 65535 bytes
        } catch {
            fatalError("a parsed message failed to encode (compression \(compression)): \(error)")
        }
        do {
            let again = try DNSMessage(parsing: encoded)
            precondition(again == message, "round trip changed the message (compression \(compression))")
        } catch {
            fatalError("an encoded message failed to parse back (compression \(compression)): \(error)")
        }
    }
    if let limited = try? message.encoded(limit: 512) {
        precondition(limited.count <= 512, "a 512-byte answer took \(limited.count) bytes")
        do {
            let parsed = try DNSMessage(parsing: limited)
            let complete = parsed.answers.count == message.answers.count && parsed.authority.count == message.authority.count
            precondition(parsed.header.isTruncated || complete || message.header.isTruncated, "records left out without TC")
            precondition(parsed.edns == message.edns, "the OPT record was lost")
        } catch {
            fatalError("a size-limited encoding failed to parse: \(error)")
        }
    }
    let response = DNSMessage.response(to: message, code: .nameError)
    _ = try? response.encoded(limit: message.udpResponseLimit())
    for record in message.answers + message.authority + message.additional {
        _ = record.name.description
        if case .address(let address) = record.data { _ = address.description }
    }
    return 0
}
