// MARK: - Reading one response from a connection

/// The client's parsing state for one response: bytes read but not parsed, events parsed but not
/// yet delivered. Reads from the connection only when it needs more (so a body read slowly is
/// read from the socket slowly: back-pressure reaches the server through TCP).
struct HTTPClientResponseReader: Sendable {
    private var parser: HTTPResponseParser
    private var pending: [UInt8] = []
    private var events: [HTTPResponseParserEvent] = []
    private var nextEvent = 0
    /// True once any response byte has arrived (a failure before that may be retried).
    private(set) var receivedBytes = false

    init(requestMethod: String, limits: HTTPParserLimits, allowsProtocolSwitch: Bool = false,
         bodyLimitScope: HTTPBodyLimitScope = .wholeBody) {
        parser = HTTPResponseParser(requestMethod: requestMethod, limits: limits, allowsProtocolSwitch: allowsProtocolSwitch,
                                    bodyLimitScope: bodyLimitScope)
    }

    /// True when the body ends only when the server closes the connection.
    var readsUntilClose: Bool { parser.readsUntilClose }

    /// Bytes after the end of the response (none on a well-behaved keep-alive connection; the
    /// first bytes of the new protocol after a `101`).
    var leftover: [UInt8] { pending }

    /// A head found by inline reading.
    enum ReceivedHead {
        /// An interim (1xx) response; the final head is still to come (``nextHead()``).
        case interim(HTTPResponseHead)
        /// The response's head; the events after it stay queued for the body.
        case final(HTTPResponseHead)
    }

    /// Inline reading (no task): takes bytes just read from the connection and returns the
    /// first head they complete (``nextHead()``). Nil while more bytes are needed.
    mutating func receive(_ bytes: [UInt8]) throws(HTTPParseError) -> ReceivedHead? {
        receivedBytes = true
        if pending.isEmpty { pending = bytes } else { pending.append(contentsOf: bytes) }
        return try nextHead()
    }

    /// The next head in what was received: an interim one (call again for what follows it) or
    /// the final one. Nil while more bytes are needed.
    mutating func nextHead() throws(HTTPParseError) -> ReceivedHead? {
        while true {
            while nextEvent < events.count {
                let event = events[nextEvent]
                nextEvent += 1
                switch event {
                case .head(let head): return .final(head)
                case .interim(let head): return .interim(head)
                case .body, .end: continue
                }
            }
            events.removeAll(keepingCapacity: true)
            nextEvent = 0
            if pending.isEmpty { return nil }
            let before = pending.count
            try parsePending()
            // Nothing parsed and nothing consumed: the rest of a head is still to come.
            if events.isEmpty && pending.count == before { return nil }
        }
    }

    /// The stream ended before a head: why, as ``next(from:host:)`` would report it.
    mutating func endBeforeHead(host: String) -> any Error {
        guard receivedBytes else {
            return HTTPClientError(.connectionClosed, host: host, detail: "closed before any response byte")
        }
        do {
            try parser.finish(into: &events)
        } catch {
            return error
        }
        return HTTPClientError(.malformedResponse, host: host, detail: "no response head")
    }

    /// When nothing of the body is left to deliver (the response's end is the next event), takes
    /// the end and returns its trailers, so the exchange can finish without a read.
    mutating func takeEndIfBodyless() -> HTTPHeaders? {
        guard parser.isComplete, nextEvent < events.count, case .end(let trailers) = events[nextEvent] else { return nil }
        nextEvent += 1
        return trailers
    }

    /// When the rest of the body has already been parsed (it arrived with the head), takes it
    /// and the response's end without a read: the body's bytes and its trailers. Nil (nothing
    /// taken) when more must be read first or the body is larger than `limit`.
    mutating func takeBufferedRest(upTo limit: Int) -> (body: [UInt8], trailers: HTTPHeaders)? {
        guard parser.isComplete else { return nil }
        var size = 0
        var trailers: HTTPHeaders?
        for event in events[nextEvent...] {
            switch event {
            case .head, .interim: return nil
            case .body(let piece): size += piece.count
            case .end(let fields): trailers = fields
            }
        }
        guard let trailers, size <= limit else { return nil }
        var body: [UInt8] = []
        for event in events[nextEvent...] {
            guard case .body(let piece) = event else { continue }
            if body.isEmpty { body = piece } else { body.append(contentsOf: piece) }
        }
        nextEvent = events.count
        return (body, trailers)
    }

    /// The next parsed event, reading from `connection` as needed; nil once the response ended.
    /// Throws ``HTTPParseError`` for a malformed response, ``HTTPClientError`` when the connection
    /// closes before any byte, and the connection's errors.
    mutating func next(from connection: TCPConnection, host: String) async throws -> HTTPResponseParserEvent? {
        while true {
            if nextEvent < events.count {
                let event = events[nextEvent]
                nextEvent += 1
                return event
            }
            events.removeAll(keepingCapacity: true)
            nextEvent = 0
            if parser.isComplete { return nil }
            if !pending.isEmpty {
                try parsePending()
                if !events.isEmpty { continue }
            }
            guard let bytes = try await connection.read() else {
                if !receivedBytes {
                    throw HTTPClientError(.connectionClosed, host: host, detail: "closed before any response byte")
                }
                try parser.finish(into: &events)
                if events.isEmpty { return nil }
                continue
            }
            receivedBytes = true
            if pending.isEmpty { pending = bytes } else { pending.append(contentsOf: bytes) }
            try parsePending()
        }
    }

    private mutating func parsePending() throws(HTTPParseError) {
        let before = events.count
        let consumed: Int
        do {
            consumed = try pending.withUnsafeBufferPointer { buffer throws(HTTPParseError) in
                try parser.parse(buffer, into: &events)
            }
        } catch {
            // Interim heads parsed before the error (the one past the limit, say) are handed on
            // first: the failed parser throws the error again at the next parse.
            if events[before...].contains(where: { if case .interim = $0 { true } else { false } }) { return }
            throw error
        }
        if consumed == pending.count {
            pending.removeAll(keepingCapacity: true)
        } else if consumed > 0 {
            pending.removeFirst(consumed)
        }
    }
}
