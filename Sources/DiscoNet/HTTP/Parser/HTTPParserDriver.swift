// MARK: - Feeding a whole input in pieces (tests and fuzzing)

/// The result of feeding an input to an ``HTTPRequestParser``: complete requests, the error if
/// any, and how many bytes were consumed. Body pieces are merged, so two outcomes compare equal
/// when the parser saw the same messages regardless of how the input was split.
struct HTTPParseOutcome: Equatable {
    struct Request: Equatable {
        var head: HTTPRequestHead
        var body: [UInt8]
        var trailers: HTTPHeaders?
    }

    var requests: [Request] = []
    var error: HTTPParseError?
    /// Bytes consumed; 0 when parsing ended in an error.
    var consumed = 0
}

extension HTTPRequestParser {
    /// Feeds `input` in pieces ending at `splits` (sorted offsets), re-presenting unconsumed bytes
    /// each time, as a connection would. Traps if the parser claims to consume more than it was
    /// given (an invariant the fuzzer checks).
    static func parseAll(_ input: [UInt8], splits: [Int], limits: HTTPParserLimits = HTTPParserLimits()) -> HTTPParseOutcome {
        var parser = HTTPRequestParser(limits: limits)
        var outcome = HTTPParseOutcome()
        var pending: [UInt8] = []
        var events: [HTTPRequestParserEvent] = []
        var cursor = 0
        let ends = splits.filter { $0 > 0 && $0 < input.count } + [input.count]
        for end in ends where end >= cursor {
            pending.append(contentsOf: input[cursor..<end])
            cursor = end
            while true {
                let consumed: Int
                do {
                    consumed = try pending.withUnsafeBufferPointer { buffer throws(HTTPParseError) in
                        try parser.parse(buffer, into: &events)
                    }
                } catch {
                    // After an error the connection closes; how far it got is not part of the result.
                    outcome.error = error
                    outcome.consumed = 0
                    collect(&events, into: &outcome)
                    return outcome
                }
                precondition(consumed >= 0 && consumed <= pending.count, "parser consumed \(consumed) of \(pending.count) bytes")
                pending.removeFirst(consumed)
                outcome.consumed += consumed
                collect(&events, into: &outcome)
                if consumed == 0 { break }
            }
        }
        return outcome
    }

    private static func collect(_ events: inout [HTTPRequestParserEvent], into outcome: inout HTTPParseOutcome) {
        for event in events {
            switch event {
            case .head(let head):
                outcome.requests.append(.init(head: head, body: [], trailers: nil))
            case .body(let bytes):
                outcome.requests[outcome.requests.count - 1].body.append(contentsOf: bytes)
            case .end(let trailers):
                outcome.requests[outcome.requests.count - 1].trailers = trailers
            }
        }
        events.removeAll(keepingCapacity: true)
    }
}
