// MARK: - The request being answered on a connection

/// One request from its head until its response is finished: how far the body has arrived and
/// been taken, and how far the response has gone. Loop-confined (held by the connection; a
/// class, so the body queue is mutated in place).
final class HTTPServerExchange {
    enum ResponseProgress { case notStarted, streaming, finished }

    let id: UInt64
    let head: HTTPRequestHead
    var body: HTTPServerRequestBodyState
    var response = ResponseProgress.notStarted

    init(id: UInt64, head: HTTPRequestHead, body: HTTPServerRequestBodyState) {
        self.id = id
        self.head = head
        self.body = body
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
    let expectsContinue: Bool
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

/// A request dispatched to the connection's handler task.
struct HTTPDispatchedRequest: Sendable {
    let id: UInt64
    let request: HTTPStreamingRequest
    let head: HTTPRequestHead
}

/// Why a request body can no longer be read, for reads after its exchange has ended.
struct HTTPRequestBodyGone: Error, CustomStringConvertible {
    var description: String {
        "the request body can no longer be read: its response was already sent or the connection closed"
    }
}
