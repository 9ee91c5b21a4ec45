import DiscoCore
import DiscoNet
import LeaseCore

// MARK: - FencingTokenMiddleware

/// Puts the fencing token on every request that reaches this replica's upstream, so the
/// application can refuse a write carrying a token lower than the highest it has seen.
///
/// Installed in front of the local upstream (the sidecar's proxy chain):
///
/// - Any `Disco-Fencing-Token` or `Disco-Hot-Cold-State` a client sent is removed: only the
///   sidecar speaks for the lease.
/// - Hot (``HotColdGate/fencingToken(at:)`` gives a token, asked right now): the request goes on
///   with `Disco-Fencing-Token: N` and `Disco-Hot-Cold-State: hot`. A write is counted in flight
///   (``HotColdGate/admitWrite(at:)``) until the upstream answers, so a graceful hand-over waits
///   for it before the lease is released.
/// - Cold, for a write: answered here with 503 and a JSON error naming the hot replica as this
///   node last applied it (the router sends writes to the hot; one that arrives here anyway was
///   routed during a switch-over and must be retried).
/// - Cold, for a read: the request goes on with `Disco-Hot-Cold-State: cold` and no token.
public struct FencingTokenMiddleware: HTTPMiddleware {
    /// The token header's name.
    public static let tokenHeader = "Disco-Fencing-Token"
    /// The state header's name (`hot` or `cold`).
    public static let stateHeader = "Disco-Hot-Cold-State"
    /// Methods that only read: GET, HEAD, OPTIONS, TRACE. Everything else counts as a write.
    public static let readMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "TRACE"]

    public let gate: HotColdGate
    let isWrite: @Sendable (HTTPStreamingRequest) -> Bool

    /// A middleware over `gate`; `isWrite` tells writes from reads (by default: any method but
    /// GET, HEAD, OPTIONS and TRACE).
    public init(gate: HotColdGate, isWrite: @escaping @Sendable (HTTPStreamingRequest) -> Bool = Self.isWriteMethod) {
        self.gate = gate
        self.isWrite = isWrite
    }

    /// Removes what a client may have sent of the token and state headers: the fields, and their
    /// names in `Connection`, where they would make the proxy drop the fields set here as
    /// hop-by-hop ones on the way to the upstream (a write from the hot without its token).
    public static func removeClientHeaders(_ headers: inout HTTPHeaders) {
        headers.remove(tokenHeader)
        headers.remove(stateHeader)
        let ours = [tokenHeader.lowercased(), stateHeader.lowercased()]
        let connection = headers.values(for: "Connection")
        let kept = connection.flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces }.filter { token in
            !token.isEmpty && !ours.contains(token.lowercased())
        }
        guard kept.count != connection.flatMap({ $0.split(separator: ",") }).count else { return }
        headers.remove("Connection")
        if !kept.isEmpty { headers.add(name: "Connection", value: kept.joined(separator: ", ")) }
    }

    /// The default classification: methods outside ``readMethods`` write.
    @Sendable public static func isWriteMethod(_ request: HTTPStreamingRequest) -> Bool {
        !readMethods.contains(request.method)
    }

    public func handle(_ request: HTTPStreamingRequest, next: HTTPResponder) async throws -> HTTPResponse {
        var request = request
        Self.removeClientHeaders(&request.headers)
        let write = isWrite(request)
        // A write is counted in flight until answered; a read only asks for the token.
        if let token = write ? gate.admitWrite() : gate.fencingToken() {
            defer { if write { gate.writeAnswered() } }
            request.headers.add(name: Self.tokenHeader, value: String(token))
            request.headers.add(name: Self.stateHeader, value: HotColdStatus.State.hot.rawValue)
            return try await next(request)
        }
        if write {
            var response = HotColdAPI.notHot(gate.status()).httpResponse
            response.headers.set(name: "Retry-After", value: "1")
            return response
        }
        request.headers.add(name: Self.stateHeader, value: HotColdStatus.State.cold.rawValue)
        return try await next(request)
    }
}

private extension Substring {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
