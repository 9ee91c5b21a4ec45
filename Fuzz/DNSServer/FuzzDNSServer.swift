// libFuzzer entry point for the DNS server's request path: query bytes → response bytes
// (Sources/DNSServerCore with the codec and NodeID compiled in directly). For any input, over UDP
// and TCP and into a minimal 512-byte buffer, the answerer must not crash, and whatever it sends
// must parse with the codec's strict parser, carry the query's ID with QR set, echo the question
// exactly, and fit its limits: over UDP at most 1232 bytes, at most 512 without EDNS (or the
// client's size, at least 512, with it), and at most max(512, 10 × the query). A message with
// QR set, or shorter than a header, gets nothing.

/// A small cluster and a crowd (answers that need truncating), chosen by the input's last byte.
let zones: [DNSZone] = {
    func ip(_ bytes: [UInt8]) -> DNSIPAddress { DNSIPAddress(bytes: bytes) ?? DNSIPAddress(bytes: [0, 0, 0, 0])! }
    let settings = try! DNSZoneSettings(domain: DNSName(parsing: "disco"), ttl: 5)
    var small: [DNSZoneMember] = []
    for index in 1...3 {
        small.append(DNSZoneMember(id: NodeID("n\(index)")!, addresses: [ip([10, 0, 0, UInt8(index)]), ip([0xfd] + Array(repeating: 0, count: 14) + [UInt8(index)])],
                                   apiPort: 4000, roles: ["host", "dns"], state: index == 3 ? .dead : .alive))
    }
    let crowd = (0..<120).map { index in
        DNSZoneMember(id: NodeID("Member_\(index)")!, addresses: [ip([10, 1, 0, UInt8(index)])], apiPort: 5000, roles: ["many"])
    }
    return [
        DNSZone(settings: settings, source: DNSZoneSource(members: small, leader: "n1", nameServers: ["n1"])),
        DNSZone(settings: settings, source: DNSZoneSource(members: small + crowd, leader: nil, nameServers: [])),
    ]
}()

let answerer = DNSAnswerer()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDNSServer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let query = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    let zone = zones[Int(query.last ?? 0) % zones.count]
    let parsed = try? DNSMessage(parsing: query)
    for (transport, capacity) in [(DNSTransport.udp, 1232), (.tcp, 65535), (.tcp, 512), (.udp, 512)] {
        var output = [UInt8](repeating: 0, count: capacity)
        let reply = query.withUnsafeBytes { q in output.withUnsafeMutableBytes { answerer.respond(to: q, over: transport, zone: zone, into: $0) } }
        precondition(reply.length >= 0 && reply.length <= capacity, "wrote \(reply.length) bytes into \(capacity)")
        guard reply.length > 0 else {
            precondition(query.count < 12 || query[2] & 0x80 != 0, "a query with a readable header got nothing")
            continue
        }
        precondition(query.count >= 12 && query[2] & 0x80 == 0, "answered a message that is not a query")
        let bytes = Array(output[0..<reply.length])
        let response: DNSMessage
        do {
            response = try DNSMessage(parsing: bytes)
        } catch {
            fatalError("the response does not parse: \(error)")
        }
        precondition(response.header.isResponse && bytes[0] == query[0] && bytes[1] == query[1], "ID or QR wrong")
        precondition(response.header.isTruncated == reply.truncated, "TC does not match the reply")
        if let question = response.questions.first {
            let length = 12 + question.name.wireLength + 4
            precondition(response.questions.count == 1 && query.count >= length && Array(bytes[12..<length]) == Array(query[12..<length]),
                         "the question is not echoed as sent")
        }
        if transport == .udp {
            var limit = min(1232, max(512, 10 * query.count))
            if let parsed { limit = min(limit, parsed.edns.map { max(512, Int($0.udpPayloadSize)) } ?? 512) }
            precondition(reply.length <= limit, "a UDP answer of \(reply.length) bytes exceeds \(limit)")
        }
        if let parsed, parsed.questions.count == 1, response.header.responseCode == .noError || response.header.responseCode == .nameError {
            precondition((response.edns != nil) == (parsed.edns != nil) || response.header.isTruncated, "EDNS in and out differ")
        }
    }
    return 0
}
