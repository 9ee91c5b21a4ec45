// MARK: - The request being answered on a connection

/// One request from its head until its response is finished: how far the body has arrived and
/// been taken, and how far the response has gone. Loop-confined (held by the connection; a
/// class, so the body queue is mutated in place, and reused for the connection's next request).
final class HTTPServerExchange {
    enum ResponseProgress { case notStarted, streaming, finished }

    // Exclusivity is not checked at run time for these: the exchange is touched only on its
    // connection's loop thread, by code that never holds one access across another.
    private(set) var id: UInt64
    private(set) var request: HTTPRequestSummary
    @exclusivity(unchecked) var body: HTTPServerRequestBodyState
    @exclusivity(unchecked) var response = ResponseProgress.notStarted
    /// The head's bytes, for a request taken as an ``HTTPRequestHeadView`` (empty otherwise):
    /// ``HTTPInlineReply/request()`` parses them again. The storage is kept across requests.
    @exclusivity(unchecked) var viewedHead: [UInt8] = []
    /// Work outside the handler task to stop if the client leaves before the response is
    /// finished (an inline upstream exchange), with the token it registered with.
    @exclusivity(unchecked) var departure: (any HTTPClientDepartureObserver)?
    @exclusivity(unchecked) var departureToken: UInt64 = 0
    /// A protocol switch has begun: the peer's end of stream is the new protocol's to handle.
    @exclusivity(unchecked) var handingOff = false

    init(id: UInt64, request: HTTPRequestSummary, body: HTTPServerRequestBodyState) {
        self.id = id
        self.request = request
        self.body = body
    }

    /// Starts over for the connection's next request (the body state in place: no copy of it).
    func reset(id: UInt64, request: HTTPRequestSummary, complete: Bool, expectsContinue: Bool) {
        self.id = id
        self.request = request
        body.restart(complete: complete, expectsContinue: expectsContinue)
        response = .notStarted
        viewedHead.removeAll(keepingCapacity: true)
        if departure != nil { departure = nil }
        handingOff = false
    }
}

/// What answering a request needs from its head: the method and version, and what its
/// `Connection` header asked for.
struct HTTPRequestSummary {
    let method: String
    let version: HTTPVersion
    /// `Connection: close`.
    let asksToClose: Bool
    /// `Connection: keep-alive` (what an HTTP/1.0 client must send to keep the connection).
    let asksToKeepAlive: Bool

    /// For an HTTP/1.1 head read in place.
    init(method: String, asksToClose: Bool) {
        self.method = method
        version = .http1_1
        self.asksToClose = asksToClose
        asksToKeepAlive = false
    }

    init(_ head: HTTPRequestHead) {
        method = head.method
        version = head.version
        asksToClose = head.headers.hasToken("close", in: "Connection")
        asksToKeepAlive = head.version.minor == 0 && head.headers.hasToken("keep-alive", in: "Connection")
    }
}

/// The receiving side of one request body: pieces parsed but not yet taken by the handler (a
/// bounded queue; see ``HTTPServerConfiguration/requestBodyBuffer``) and the one waiting reader.
struct HTTPServerRequestBodyState {
    /// The parser has seen the end of the body (always true for a request without one).
    var complete: Bool
    var trailers = HTTPHeaders()
    /// Why the body can no longer be read (a parse error, a timeout, the peer leaving).
    var failure: (any Error)?
    /// The client sent `Expect: 100-continue` with a body.
    private(set) var expectsContinue: Bool
    var sentContinue = false
    /// The response is over: pieces that still arrive are dropped.
    var discarding = false

    private var pieces: [[UInt8]] = []
    private var firstPiece = 0
    /// Bytes queued for the handler.
    private(set) var bufferedBytes = 0
    /// The handler waiting for the next piece.
    var waiter: CheckedContinuation<[UInt8]?, any Error>?

    init(complete: Bool, expectsContinue: Bool) {
        self.complete = complete
        self.expectsContinue = expectsContinue
    }

    /// Back to the state `init` makes, keeping the queue's storage (a reused exchange's).
    mutating func restart(complete: Bool, expectsContinue: Bool) {
        self.complete = complete
        if !trailers.isEmpty { trailers = HTTPHeaders() }
        failure = nil
        self.expectsContinue = expectsContinue
        sentContinue = false
        discarding = false
        if !pieces.isEmpty { pieces.removeAll(keepingCapacity: true) }
        firstPiece = 0
        bufferedBytes = 0
        waiter = nil
    }

    var hasQueuedPieces: Bool { firstPiece < pieces.count }

    mutating func enqueue(_ piece: [UInt8]) {
        pieces.append(piece)
        bufferedBytes += piece.count
    }

    mutating func dequeue() -> [UInt8]? {
        guard firstPiece < pieces.count else { return nil }
        let piece = pieces[firstPiece]
        firstPiece += 1
        bufferedBytes -= piece.count
        if firstPiece == pieces.count {
            pieces.removeAll(keepingCapacity: true)
            firstPiece = 0
        }
        return piece
    }

    mutating func dropQueued() {
        pieces.removeAll()
        firstPiece = 0
        bufferedBytes = 0
    }

    /// Takes the waiting reader, if any.
    mutating func takeWaiter() -> CheckedContinuation<[UInt8]?, any Error>? {
        defer { waiter = nil }
        return waiter
    }
}

/// The request queued for the connection's handler task. The two forms are separate optionals
/// (not one enum) so the task can move each out with `take()` instead of copying it.
struct HTTPQueuedRequest {
    var id: UInt64 = 0
    /// With its whole body, when the responder takes whole bodies and there is none to read.
    var whole: HTTPRequest?
    /// Streamed, for everything else.
    var streaming: HTTPStreamingRequest?
    /// A response already started inline whose body (a stream) or hand-off the task carries on.
    var followUp: HTTPServerConnection.ResponseFollowUp?
    /// An inline handler's work that the task runs for the answer.
    var deferred: (@Sendable () async -> HTTPResponse)?

    var isEmpty: Bool { whole == nil && streaming == nil && followUp == nil && deferred == nil }
}

/// Why a request body can no longer be read, for reads after its exchange has ended.
struct HTTPRequestBodyGone: Error, CustomStringConvertible {
    var description: String {
        "the request body can no longer be read: its response was already sent or the connection closed"
    }
}
