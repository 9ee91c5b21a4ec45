import DiscoCore
import DiscoNet
import LeaseCore

// MARK: - HotColdAPI

/// The answers of `GET /hot` and `/readyz?hot`, as pure functions of the status (the node or
/// sidecar routes them).
public enum HotColdAPI {
    /// `GET /hot`: 200 with ``HotColdStatus/json``.
    public static func hot(_ status: HotColdStatus) -> HTTPResponse {
        HTTPResponse(status: 200, headers: ["Content-Type": "application/json"],
                     bytes: status.json.encodedBytes() + [UInt8(ascii: "\n")])
    }

    /// Whether a `/readyz` query asks about hotness: `hot`, `hot=true` or `hot=1` yes; no `hot`
    /// parameter, `hot=false` or `hot=0` no; any other value of `hot` is an error naming the
    /// accepted ones. Other parameters are left to the caller.
    public static func asksForHot(query: String?) -> Result<Bool, HotColdQueryError> {
        guard let query else { return .success(false) }
        var asks = false
        for parameter in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0] == "hot" else { continue }
            switch parts.count == 1 ? "" : String(parts[1]) {
            case "", "true", "1": asks = true
            case "false", "0": asks = false
            case let other:
                return .failure(HotColdQueryError(message: "hot=\(other) is not a valid value; use /readyz?hot (or hot=true, hot=1, hot=false, hot=0)"))
            }
        }
        return .success(asks)
    }

    /// `/readyz?hot`: 200 only while this replica may act as hot (`token` is what the gate
    /// answered at the moment of asking), 503 otherwise with the reason and the hot replica.
    public static func hotReadiness(_ status: HotColdStatus, token: UInt64?) -> HTTPResponse {
        if let token {
            return .text("hot (group \(status.group), token \(token))\n")
        }
        var reason = "cold (group \(status.group)"
        if let why = status.coldReason { reason += ", \(why)" }
        if !status.healthy { reason += ", upstream unhealthy" }
        if !status.mayBeHot { reason += ", -no-hot" }
        reason += status.holder.map { "); the hot replica is \($0)" } ?? "); no replica is hot"
        return .text(reason + "\n", status: 503)
    }
}

/// A `/readyz` query whose `hot` parameter has a value that means nothing.
public struct HotColdQueryError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
