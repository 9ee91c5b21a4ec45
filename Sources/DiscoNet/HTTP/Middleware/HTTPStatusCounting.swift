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
/// further down the chain (an ``HTTPParseError``'s status, 500 for anything else). A request
/// whose client left while it was being answered (the server cancelled its handler, and the
/// answer reached no one) counts as 499, nginx's "client closed request", whatever the
/// cancelled handler returned.
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
            record(Task.isCancelled ? await Self.status(response.status, of: request) : response.status)
            return response
        } catch {
            record(await Self.status(Self.status(answering: error), of: request))
            throw error
        }
    }

    /// The status the server gives a request whose client left while it was being answered:
    /// 499, as nginx logs it ("client closed request"). No answer is sent with it.
    public static let clientClosedRequest = 499

    /// The status to count and log for `request`, answered with `status`: 499
    /// (``clientClosedRequest``) when the server abandoned it because its client left, the
    /// handler's task then being cancelled (checked first, so an ordinary request costs no
    /// look-up); `status` otherwise.
    static func status(_ status: Int, of request: HTTPStreamingRequest) async -> Int {
        guard Task.isCancelled, let client = request.client else { return status }
        return await client.clientAbandoned() ? clientClosedRequest : status
    }

    /// The status the server answers a thrown `error` with (see ``HTTPResponder``).
    static func status(answering error: any Error) -> Int {
        (error as? HTTPParseError)?.status ?? 500
    }
}
