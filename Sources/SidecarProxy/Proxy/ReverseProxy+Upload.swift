import DiscoCore
import DiscoNet
import Sidecar
import Synchronization

// MARK: - Streamed uploads

extension ReverseProxy {
    /// Bounds the exchange of a streamed upload by itself; the watchdog bounds each wait for the
    /// upstream and abandons the exchange sooner.
    static let uploadExchangeLimit = Duration.seconds(365 * 86_400)

    /// How much of a chunked request body ``readAhead(_:upTo:)`` found.
    enum ReadAhead {
        /// The whole body: it ended within the limit.
        case whole([UInt8])
        /// Its first bytes (past the limit); the rest is still to be read.
        case partial([UInt8])
    }

    /// The answer to `request` when its body could not be read (`error`): the status the server
    /// answered it with when its reading failed (408 for a body that stalled, 413, 431, or 400
    /// for a malformed one: ``ProxyErrorResponse/unreadBody(_:)``); else 499 when its client
    /// left (the server cancelled this task, and the body went with the connection), as nginx
    /// counts a client that closes before its request is sent on; else 400.
    func unreadBody(_ request: HTTPStreamingRequest, _ error: any Error) async -> HTTPResponse {
        guard !(error is HTTPParseError), Task.isCancelled, await request.clientHasLeft() else {
            return ProxyErrorResponse.unreadBody(error)
        }
        logger.info("\(request.method) \(request.path): the client closed the connection before its request was sent on (499)")
        return ProxyErrorResponse.clientClosed(while: "its request body was read")
    }

    /// Reads `body` until it ends or holds more than `limit` bytes (by at most one piece, which
    /// the server bounds).
    static func readAhead(_ body: HTTPRequestBody, upTo limit: Int) async throws -> ReadAhead {
        var bytes: [UInt8] = []
        var pieces = body.makeAsyncIterator()
        while bytes.count <= limit {
            guard let piece = try await pieces.next() else { return .whole(bytes) }
            bytes.append(contentsOf: piece)
        }
        return .partial(bytes)
    }

    /// Sends `outgoing` with `readAhead` (the body's first bytes, already read) and then the
    /// rest of the client's `body` streamed to the upstream. The read timeout bounds
    /// each wait for the upstream (to take a piece of the body, then for its response head) but
    /// not the waits for the client's next piece: an upload from a slow client takes as long as
    /// it takes (the server's idle timeout closes a client that stops sending).
    func executeStreamingUpload(_ outgoing: HTTPClientRequest, readAhead: [UInt8] = [], body: HTTPRequestBody,
                                address: String) async throws -> HTTPClientStreamingResponse {
        let watchdog = self.watchdog
        let exchange = AbandonableExchange()
        let watch = watchdog.watch { exchange.cancel() }
        var request = outgoing
        request.bodyStream = .writer(length: body.declaredLength) { writer in
            if !readAhead.isEmpty { try await writer.write(readAhead) }
            watchdog.pause(watch)
            var pieces = body.makeAsyncIterator()
            while true {
                let next: [UInt8]?
                do {
                    next = try await pieces.next()
                } catch {
                    throw ClientBodyBroken(underlying: error)
                }
                guard let piece = next else { break }
                watchdog.progress(watch)
                try await writer.write(piece)
                watchdog.pause(watch)
            }
            watchdog.progress(watch)
        }
        let client = self.client
        let work = Task { try await client.execute(request, timeout: Self.uploadExchangeLimit) }
        exchange.start(work)
        let result = await withTaskCancellationHandler { await work.result } onCancel: { work.cancel() }
        if watchdog.finish(watch) {
            throw HTTPClientError(.timeout, host: address, detail: "no response within \(configuration.readTimeout)")
        }
        return try result.get()
    }
}

/// The client's request body broke while it streamed to the upstream (its client closed the
/// connection, or sent a malformed chunk): the exchange failed on the client's side, not the
/// upstream's.
struct ClientBodyBroken: Error {
    let underlying: any Error
}

/// The task of an exchange the watchdog may abandon, possibly before the task exists.
private final class AbandonableExchange: Sendable {
    private let state = Mutex<(task: Task<HTTPClientStreamingResponse, any Error>?, cancelled: Bool)>((nil, false))

    func start(_ task: Task<HTTPClientStreamingResponse, any Error>) {
        let cancelled = state.withLock { state in
            state.task = task
            return state.cancelled
        }
        if cancelled { task.cancel() }
    }

    func cancel() {
        state.withLock { state in
            state.cancelled = true
            return state.task
        }?.cancel()
    }
}
