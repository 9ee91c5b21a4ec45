import DiscoCore
import DiscoNet
import LeaseCore

// MARK: - HotColdAnswer

/// An HTTP answer as plain values (status, content type, body), so the logic is testable without
/// a server; ``httpResponse`` is what a route returns.
public struct HotColdAnswer: Hashable, Sendable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]

    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The answer as a DiscoNet response.
    public var httpResponse: HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], bytes: body)
    }

    static func json(_ value: JSONValue, status: Int = 200) -> HotColdAnswer {
        HotColdAnswer(status: status, contentType: "application/json", body: value.encodedBytes() + [UInt8(ascii: "\n")])
    }

    static func text(_ text: String, status: Int = 200) -> HotColdAnswer {
        HotColdAnswer(status: status, contentType: "text/plain; charset=utf-8", body: Array((text + "\n").utf8))
    }
}

// MARK: - HotColdAPI

/// The answers of `GET /hot` and `/readyz?hot`, as pure functions of the status (the node or
/// sidecar routes them).
public enum HotColdAPI {
    /// `GET /hot`: 200 with ``HotColdStatus/json``.
    public static func hot(_ status: HotColdStatus) -> HotColdAnswer {
        .json(status.json)
    }

    /// `/readyz?hot`: 200 only while this replica may act as hot (`token` is what the gate
    /// answered at the moment of asking), 503 otherwise with the reason and the hot replica.
    public static func hotReadiness(_ status: HotColdStatus, token: UInt64?) -> HotColdAnswer {
        if let token {
            return .text("hot (group \(status.group), token \(token))")
        }
        var reason = "cold (group \(status.group)"
        if let why = status.coldReason { reason += ", \(why)" }
        if !status.healthy { reason += ", upstream unhealthy" }
        if !status.mayBeHot { reason += ", -no-hot" }
        reason += status.holder.map { "); the hot replica is \($0)" } ?? "); no replica is hot"
        return .text(reason, status: 503)
    }

    /// 503 for a write that reached a cold replica: names the hot replica as this node last
    /// applied it.
    public static func notHot(_ status: HotColdStatus) -> HotColdAnswer {
        var body = JSONObject()
        let hot = status.holder.map { "the hot replica is \($0)" } ?? "no replica is hot right now"
        body.append(key: "error", value: .string(
            "this replica (\(status.node)) is not hot in group \(status.group), so it does not pass writes to its upstream; "
                + "\(hot): retry the write"))
        body.append(key: "group", value: .string(status.group.rawValue))
        body.append(key: "hot", value: status.holder.map { .string($0.rawValue) } ?? .null)
        body.append(key: "token", value: .number(JSONNumber(status.leaseToken)))
        return .json(.object(body), status: 503)
    }
}
