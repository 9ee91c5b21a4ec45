// The response side of the HTTP parser fuzzer: HTTPResponseParser fed whole, split and byte by
// byte must see the same response; the events must be well formed; HTTPClientResponseReader's
// inline reading (receive / nextHead) must hand on the same heads, interim ones first, before an
// error found after them.

enum ResponseCheck {
    /// A request the response answers: its method and whether it asked for an upgrade.
    struct Exchange {
        var method: String
        var upgrade: Bool
    }

    static let exchanges = [Exchange(method: "GET", upgrade: false), Exchange(method: "HEAD", upgrade: false),
                            Exchange(method: "GET", upgrade: true), Exchange(method: "CONNECT", upgrade: false)]

    /// What the parser saw of a stream: its events (body pieces merged, empty ones dropped), the
    /// error if any (from parsing or from the end of the stream), bytes consumed (0 after an
    /// error) and whether the response completed.
    struct Outcome: Equatable {
        var events: [HTTPResponseParserEvent] = []
        var error: HTTPParseError?
        /// The error came from reporting the end of the stream, not from parsing bytes.
        var errorAtEnd = false
        var consumed = 0
        var complete = false

        var interims: [HTTPResponseHead] {
            events.compactMap { if case .interim(let head) = $0 { head } else { nil } }
        }

        var finalHead: HTTPResponseHead? {
            for case .head(let head) in events { return head }
            return nil
        }

        mutating func collect(_ raw: inout [HTTPResponseParserEvent]) {
            for event in raw {
                if case .body(let piece) = event {
                    if piece.isEmpty { continue }
                    if case .body(let previous)? = events.last {
                        events[events.count - 1] = .body(previous + piece)
                        continue
                    }
                }
                events.append(event)
            }
            raw.removeAll(keepingCapacity: true)
        }
    }

    static func check(_ input: [UInt8], splits: [Int], limits: HTTPParserLimits) {
        for exchange in exchanges {
            let whole = parseAll(input, splits: [], exchange: exchange, limits: limits)
            checkWellFormed(whole, input: input, exchange: exchange)
            let split = parseAll(input, splits: splits, exchange: exchange, limits: limits)
            require(whole == split, "response outcome depends on split points \(splits): \(whole) vs \(split)")
            if input.count <= 512 {
                let bytewise = parseAll(input, splits: Array(0..<input.count), exchange: exchange, limits: limits)
                require(whole == bytewise, "response outcome differs when fed byte by byte")
            }
            checkReader(input, splits: [], exchange: exchange, limits: limits, expected: whole)
            checkReader(input, splits: splits, exchange: exchange, limits: limits, expected: whole)
        }
    }

    // MARK: - The parser, fed in pieces

    /// Feeds `input` in pieces ending at `splits`, re-presenting unconsumed bytes each time as the
    /// client does, then reports the end of the stream.
    static func parseAll(_ input: [UInt8], splits: [Int], exchange: Exchange, limits: HTTPParserLimits) -> Outcome {
        var parser = HTTPResponseParser(requestMethod: exchange.method, limits: limits, allowsProtocolSwitch: exchange.upgrade)
        var outcome = Outcome()
        var pending: [UInt8] = []
        var events: [HTTPResponseParserEvent] = []
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
                    outcome.error = error
                    outcome.consumed = 0
                    outcome.collect(&events)
                    return outcome
                }
                require(consumed >= 0 && consumed <= pending.count, "response parser consumed \(consumed) of \(pending.count) bytes")
                pending.removeFirst(consumed)
                outcome.consumed += consumed
                outcome.collect(&events)
                if consumed == 0 { break }
            }
        }
        do {
            try parser.finish(into: &events)
        } catch {
            outcome.error = error
            outcome.errorAtEnd = true
            outcome.consumed = 0
        }
        outcome.collect(&events)
        outcome.complete = parser.isComplete
        return outcome
    }

    // MARK: - The events' shape

    static func checkWellFormed(_ outcome: Outcome, input: [UInt8], exchange: Exchange) {
        require(outcome.consumed <= input.count, "consumed more than the input")
        var interims = 0
        var heads = 0
        var ended = false
        for event in outcome.events {
            require(!ended, "an event after the end: \(outcome.events)")
            switch event {
            case .interim(let head):
                require(heads == 0, "an interim head after the final head")
                require((100...199).contains(head.status) && head.status != 101, "interim status \(head.status)")
                interims += 1
            case .head(let head):
                require(heads == 0, "two final heads")
                heads += 1
                let switched = exchange.upgrade && head.status == 101
                require(switched || (200...999).contains(head.status), "final status \(head.status)")
            case .body:
                require(heads == 1, "a body before the head")
            case .end:
                require(heads == 1, "an end before the head")
                ended = true
            }
        }
        require(interims <= HTTPResponseParser.maxInterimResponses, "\(interims) interim heads")
        require(outcome.complete == ended, "complete is \(outcome.complete) but the end was \(ended ? "" : "not ")seen")
        if let error = outcome.error {
            require(!error.reason.isEmpty, "an error without a reason")
            require((400...599).contains(error.status), "error status \(error.status)")
            require(!outcome.complete, "complete and failed")
            if error.reason.contains("interim") {
                require(interims == HTTPResponseParser.maxInterimResponses && heads == 0,
                             "interim limit error after \(interims) interim heads")
            }
        } else {
            require(outcome.complete, "the end of the stream neither completed nor failed the response")
        }
    }

    // MARK: - The client's inline reader

    /// Feeds the pieces to `HTTPClientResponseReader.receive` and asks `nextHead` until the final
    /// head, an error or a need for more: every interim head the parser found is handed on, in
    /// order, before the final head or the error.
    static func checkReader(_ input: [UInt8], splits: [Int], exchange: Exchange, limits: HTTPParserLimits, expected: Outcome) {
        var reader = HTTPClientResponseReader(requestMethod: exchange.method, limits: limits, allowsProtocolSwitch: exchange.upgrade)
        var interims: [HTTPResponseHead] = []
        var cursor = 0
        let ends = splits.filter { $0 > 0 && $0 < input.count } + [input.count]
        for end in ends where end > cursor {
            let piece = Array(input[cursor..<end])
            cursor = end
            do {
                var next = try reader.receive(piece)
                while let head = next {
                    switch head {
                    case .interim(let interim):
                        interims.append(interim)
                        next = try reader.nextHead()
                    case .final(let final):
                        require(interims == expected.interims, "reader interims \(interims) vs \(expected.interims)")
                        require(final == expected.finalHead, "reader final head differs")
                        return
                    }
                }
            } catch {
                require(interims == expected.interims, "reader handed on \(interims.count) interim heads before the error, "
                    + "the parser found \(expected.interims.count)")
                require(error == expected.error, "reader error \(error) vs \(String(describing: expected.error))")
                return
            }
        }
        // More is needed: the parser found neither the final head nor an error before the end.
        require(expected.finalHead == nil, "the reader missed the final head")
        require(expected.error == nil || expected.errorAtEnd, "the reader missed the error \(String(describing: expected.error))")
        require(interims == expected.interims, "reader interims differ while waiting for more")
    }
}

/// `precondition` that says why even in an optimised build (the finding's log names the rule).
private func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError(message()) }
}
