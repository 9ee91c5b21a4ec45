import DiscoCore
import DiscoNet
import Sidecar

// MARK: - The upstream's response, relayed to the client

extension ReverseProxy {
    /// The client's response for the upstream's `answer`: small fixed-length bodies are read
    /// whole (a failure there is still a clean 502); others stream, and a failure half-way
    /// closes the client's connection without ending the body, so it is never taken as complete.
    func relay(_ answer: HTTPClientStreamingResponse, method: String, upstream: String, address: String) async -> HTTPResponse {
        var headers = HTTPHeaders(ForwardingHeaders.response(answer.headers.fields))
        let bodyless = method == "HEAD" || answer.status == 204 || answer.status == 304 || (100..<200).contains(answer.status)
        // A HEAD or 304 answer tells the length of a body it does not carry: the client gets the
        // upstream's (the server writes it as the length of no body; it frames nothing).
        if method == "HEAD" || answer.status == 304, let length = answer.headers["Content-Length"] {
            headers.set(name: "Content-Length", value: length)
        }
        let body = answer.body
        if !bodyless, let text = answer.headers["Content-Length"], let length = Int(text), length <= Self.wholeBodyLimit {
            // Usually the whole body came with the head: no read, no watch.
            if let bytes = body.collectIfArrived(upTo: Self.wholeBodyLimit) {
                return HTTPResponse(status: answer.status, reason: answer.reason, headers: headers, body: .bytes(bytes))
            }
            let watch = watchdog.watch { body.close() }
            do {
                let bytes = try await body.collect(upTo: Self.wholeBodyLimit)
                _ = watchdog.finish(watch)
                return HTTPResponse(status: answer.status, reason: answer.reason, headers: headers, body: .bytes(bytes))
            } catch {
                let stalled = watchdog.finish(watch)
                if Task.isCancelled { return clientLeft(method, nil, upstream: upstream, address: address) }
                // The upstream answered early, but the client's streamed body broke meanwhile.
                if let broken = error as? ClientBodyBroken { return ProxyErrorResponse.unreadBody(broken.underlying) }
                metrics.upstreamFailure(upstream)
                logger.warning("upstream \(upstream) (\(address)) response body failed: \(stalled ? "no progress within the read timeout" : "\(error)")")
                let failure: any Error = stalled
                    ? HTTPClientError(.timeout, host: address, detail: "no more of the response body within \(configuration.readTimeout)") : error
                return ProxyErrorResponse.upstreamFailure(failure, upstream: upstream, address: address)
            }
        }
        let logger = self.logger
        let metrics = self.metrics
        let watchdog = self.watchdog
        let readTimeout = configuration.readTimeout
        // The upstream's stated length goes on, as nginx passes it (progress for the client, and a short body is seen as such).
        let length = answer.headers.contains("Transfer-Encoding") ? nil : answer.headers["Content-Length"].flatMap { Int($0) }
        return HTTPResponse(status: answer.status, reason: answer.reason, headers: headers, body: .stream(length: length) { writer in
            let watch = watchdog.watch { body.close() }
            do {
                for try await piece in body {
                    // A slow client is not a slow upstream: the wait for it to take the piece
                    // is not timed (the server closes a client that takes nothing).
                    watchdog.pause(watch)
                    try await writer.write(piece)
                    watchdog.progress(watch)
                }
                // A body the watchdog closed between two reads ends like a complete one: it was
                // not, so the client's connection must close without the final chunk.
                guard !watchdog.finish(watch) else {
                    throw HTTPClientError(.timeout, host: address, detail: "no more of the response body within \(readTimeout)")
                }
            } catch {
                let stalled = watchdog.finish(watch)
                // The client went away (or the upstream failed): the rest of the body will not
                // be read, so its connection closes now rather than when the response is released.
                body.close()
                if error is HTTPClientError && !Task.isCancelled {
                    metrics.upstreamFailure(upstream)
                    logger.warning("upstream \(upstream) (\(address)) response body failed half-way; the client's connection is closed: "
                        + (stalled ? "no more of it within the read timeout" : "\(error)"))
                }
                throw error
            }
        })
    }

    /// A request whose client left while it waited for `upstream` (its handler task cancelled):
    /// 499 for the metrics, and a line in the log as nginx writes one.
    func clientLeft(_ method: String, _ path: String?, upstream: String, address: String) -> HTTPResponse {
        logger.info("\(method) \(path ?? "request"): the client closed the connection before upstream \(upstream) (\(address)) answered; "
            + "the upstream connection is closed too (499)")
        return ProxyErrorResponse.clientClosed(upstream: upstream, address: address)
    }
}
