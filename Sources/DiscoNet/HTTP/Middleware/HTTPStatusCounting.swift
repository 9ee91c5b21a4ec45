import Synchronization

// MARK: - Counting responses by status

/// Response counts by status code, safe to read while the server runs (for `/metrics`).
public final class HTTPStatusCounts: Sendable {
    private let counts = Mutex<[Int: Int]>([:])

    public init() {}

    /// Counts one response with `status`.
    public func record(_ status: Int) {
        counts.withLock { $0[status, default: 0] += 1 }
    }

    /// Responses answered with `status` so far.
    public subscript(status: Int) -> Int { counts.withLock { $0[status] ?? 0 } }

    /// Every count so far.
    public var snapshot: [Int: Int] { counts.withLock { $0 } }
}

/// Counts every response by status, including the answers the server gives for errors thrown
/// further down the chain (an ``HTTPParseError``'s status, 500 for anything else).
public struct HTTPStatusCounting: HTTPMiddleware {
    private let record: @Sendable (Int) -> Void

    /// Counts into `counts`.
    public init(into counts: HTTPStatusCounts) {
        record = { counts.record($0) }
    }

    /// Hands each status to `record` (to feed counters kept elsewhere).
    public init(_ record: @escaping @Sendable (Int) -> Void) {
        self.record = record
    }

    public func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        do {
            let response = try await next(request)
            record(response.status)
            return response
        } catch {
            record(Self.status(answering: error))
            throw error
        }
    }

    /// The status the server answers a thrown `error` with (see ``HTTPResponder``).
    static func status(answering error: any Error) -> Int {
        (error as? HTTPParseError)?.status ?? 500
    }
}
