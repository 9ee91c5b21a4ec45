// libFuzzer entry point for the DNS message codec (Sources/DiscoDNSMessage/*.swift, compiled in
// directly). Any input must either parse or throw DNSMessageError; whatever parses must encode
// and parse back to the same message.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDNSMessage(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    _ = try? DNSMessage.parseHeader(bytes)
    guard let message = try? DNSMessage(parsing: bytes) else { return 0 }
    let encoded: [UInt8]
    do {
        encoded = try message.encoded()
    } catch {
        fatalError("a parsed message failed to encode: \(error)")
    }
    do {
        let again = try DNSMessage(parsing: encoded)
        precondition(again == message, "round trip changed the message")
    } catch {
        fatalError("an encoded message failed to parse back: \(error)")
    }
    for record in message.answers + message.authority + message.additional {
        _ = record.name.description
        if case .address(let address) = record.data { _ = address.description }
    }
    return 0
}
