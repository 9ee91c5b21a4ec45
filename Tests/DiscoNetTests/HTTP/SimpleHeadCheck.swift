// The differential check of the in-place head recogniser against the general parser, shared by
// HTTPSimpleRequestHeadTests and the fuzz harness Fuzz/HTTPRequestHead (which compiles this
// file with the parser's sources as one module, so the import is conditional).
#if canImport(DiscoNet)
import DiscoNet
#endif

enum SimpleHeadCheck {
    /// What one input did: whether the recogniser took it, and what differs from the parser
    /// (nil: nothing).
    struct Outcome {
        var recognised: Bool
        var problem: String?
    }

    /// Recognises `input`; when it is recognised, the general parser must accept the same bytes
    /// as one complete head with no body, of the same length, method, target (in origin form) and version, with
    /// the same fields in order and the same `Connection: close`.
    static func check(_ input: [UInt8], limits: HTTPParserLimits) -> Outcome {
        var spans: [HTTPFieldSpan] = []
        guard let head = input.withUnsafeBufferPointer({ HTTPSimpleRequestHead.recognise($0, limits: limits, fields: &spans) }) else {
            return Outcome(recognised: false)
        }
        func problem(_ text: String) -> Outcome { Outcome(recognised: true, problem: text) }
        var parser = HTTPRequestParser(limits: limits)
        var events: [HTTPRequestParserEvent] = []
        let consumed: Int
        do {
            consumed = try input.withUnsafeBufferPointer { try parser.parse($0, into: &events) }
        } catch {
            return problem("recognised a head the parser refuses: \(error)")
        }
        guard events.count == 2, case .head(let parsed) = events[0], case .end = events[1] else {
            return problem("the parser did not find exactly one head without a body: \(events.count) events")
        }
        guard consumed == head.length else { return problem("length \(head.length), the parser consumed \(consumed)") }
        func text(_ range: Range<Int>) -> String { String(decoding: input[range], as: UTF8.self) }
        guard parsed.method == text(head.method), parsed.target == text(head.target), parsed.targetForm == .origin,
              parsed.version == .http1_1 else {
            return problem("request line differs: \(parsed.method) \(parsed.target) \(parsed.version)")
        }
        let recognisedFields = spans.map { "\(text($0.name)): \(text($0.value))" }
        let parsedFields = parsed.headers.fields.map { "\($0.name): \($0.value)" }
        guard recognisedFields == parsedFields else { return problem("fields differ: \(recognisedFields) against \(parsedFields)") }
        guard head.asksToClose == parsed.headers.hasToken("close", in: "Connection") else { return problem("Connection: close differs") }
        return Outcome(recognised: true)
    }
}
