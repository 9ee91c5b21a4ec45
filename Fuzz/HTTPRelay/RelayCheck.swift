// The differential check shared by the fuzzer: the relay against the general parser.

enum RelayCheck {
    static func check(_ input: [UInt8], limits: HTTPParserLimits, keepsDate: Bool) {
        let filter = HTTPRelayFilter(maxBody: 64 * 1024) { name in
            keepsDate || String(decoding: name, as: UTF8.self).lowercased() != "date"
        }
        guard let relayed = HTTPRelayedResponse.recognise(input, limits: limits, filter: filter) else { return }
        var parser = HTTPResponseParser(requestMethod: "GET", limits: limits)
        var events: [HTTPResponseParserEvent] = []
        let consumed: Int
        do {
            consumed = try input.withUnsafeBufferPointer { buffer in try parser.parse(buffer, into: &events) }
        } catch {
            preconditionFailure("relayed a response the parser refuses: \(error)")
        }
        precondition(consumed == input.count && parser.isComplete, "relayed bytes are not exactly one complete response")
        guard case .head(let head)? = events.first else { preconditionFailure("no head") }
        precondition(head.status == relayed.status && head.reason == relayed.reason, "status line differs")
        precondition(head.version == .http1_1, "relayed a response that is not HTTP/1.1")
        precondition(!head.headers.hasToken("close", in: "Connection"), "relayed a response that closes the connection")
        var body: [UInt8] = []
        for case .body(let piece) in events { body += piece }
        precondition(body == Array(relayed.body), "body differs")
        var expected: [UInt8] = []
        for field in head.headers {
            let lower = field.name.lowercased()
            if lower == "content-length" || lower == "connection" || (!keepsDate && lower == "date") { continue }
            expected += Array("\(field.name): \(field.value)\r\n".utf8)
        }
        precondition(expected == relayed.encodedFields, "fields differ")
    }
}
