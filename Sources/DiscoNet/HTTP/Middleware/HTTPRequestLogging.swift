import DiscoCore

// MARK: - Request logging

/// Logs one line per request: method, target, status, time to the response head, and the peer.
/// Errors thrown by the rest of the chain are logged with the status the server will answer. A
/// request whose client left while it was being answered is logged with 499 at the ordinary
/// level, whatever its cancelled handler returned (see ``HTTPStatusCounting``).
public struct HTTPRequestLogging: HTTPMiddleware {
    public let logger: Logger
    /// The level of ordinary lines (499 included: a client that left is no server fault); 5xx
    /// answers are logged at `warning`.
    public let level: Logger.Level

    public init(logger: Logger, level: Logger.Level = .info) {
        self.logger = logger
        self.level = level
    }

    public func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        let started = ContinuousClock.now
        do {
            let response = try await next(request)
            let status = Task.isCancelled ? await HTTPStatusCounting.status(response.status, of: request) : response.status
            log(request, status: status, since: started)
            return response
        } catch {
            log(request, status: await HTTPStatusCounting.status(HTTPStatusCounting.status(answering: error), of: request),
                since: started)
            throw error
        }
    }

    private func log(_ request: HTTPStreamingRequest, status: Int, since started: ContinuousClock.Instant) {
        let level = status >= 500 ? max(self.level, .warning) : self.level
        guard logger.isEnabled(level) else { return }
        let elapsed = ContinuousClock.now - started
        let micros = elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
        logger.log(level: level, "\(request.method) \(request.target) \(status)", metadata: [
            "status": "\(status)",
            "duration_us": "\(micros)",
            "peer": "\(request.remoteAddress?.description ?? "unknown")",
        ])
    }
}
