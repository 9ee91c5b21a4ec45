import DiscoCore
import DiscoNet

// MARK: - Errors the proxy answers itself

/// JSON error responses of the proxy (`{"error": …}` plus fields naming what failed), as the
/// node's API answers errors.
public enum ProxyErrorResponse {
    /// An error response with `status`, `message` and extra string fields.
    public static func make(_ status: Int, _ message: String, fields: [(String, String)] = [], headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var object = JSONObject()
        object.append(key: "error", value: .string(message))
        for (key, value) in fields { object.append(key: key, value: .string(value)) }
        var all = headers
        all.set(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: status, headers: all, bytes: Array((JSONValue.object(object).encoded() + "\n").utf8))
    }

    /// The answer for a failed exchange with upstream `name` at `address` — or, for a write sent
    /// on to the writer, with `writer`'s sidecar at `address`, which passes it to its upstream
    /// `name`: 504 when it timed out (connecting or waiting for its answer), 502 for everything else.
    static func upstreamFailure(_ error: any Error, upstream name: String, address: String, writer: String? = nil) -> HTTPResponse {
        let (status, what) = classify(error)
        guard let writer else {
            return make(status, "upstream \(name.debugDescription) (\(address)) \(what)", fields: [("upstream", name), ("upstream_addr", address)])
        }
        return make(status, "the sidecar of writer \(writer.debugDescription) (\(address)), for its upstream \(name.debugDescription), \(what)",
                    fields: [("upstream", name), ("upstream_addr", address), ("writer", writer)])
    }

    /// The answer (which no one reads: the server sends nothing on a connection whose client
    /// left) to a request whose client left while it waited for upstream `name`: 499, nginx's
    /// "client closed request", for the metrics and logs.
    static func clientClosed(upstream name: String, address: String) -> HTTPResponse {
        make(499, "the client closed the connection before upstream \(name.debugDescription) (\(address)) answered",
             fields: [("upstream", name), ("upstream_addr", address)])
    }

    /// The answer (which no one reads) to a request whose client left before the proxy sent it
    /// on, `while` something was done for it: 499, nginx's "client closed request", for the
    /// metrics and logs.
    static func clientClosed(while what: String) -> HTTPResponse {
        make(499, "the client closed the connection while \(what)")
    }

    /// The answer to a request whose body could not be read (`error`), with the status its
    /// client was sent. A failure of the server's reading (a body that stalled for the idle
    /// timeout, a malformed chunk, a body or trailer section past a limit) is an
    /// ``HTTPParseError`` that the server has already answered with its status (408, 400, 413,
    /// 431) before closing the connection; the handler's answer is dropped, so it carries the
    /// same status, which is what the metrics and logs then report. Anything else is a 400.
    static func unreadBody(_ error: any Error) -> HTTPResponse {
        guard let failure = error as? HTTPParseError else { return make(400, "the request body could not be read: \(error)") }
        return make(failure.status, "the request body could not be read: \(failure.reason)")
    }

    /// The status and a description of `error`, as the client is told.
    static func classify(_ error: any Error) -> (status: Int, what: String) {
        guard let client = error as? HTTPClientError else { return (502, "failed: \(error)") }
        switch client.code {
        case .connectTimeout: return (504, "did not accept a connection in time")
        case .timeout: return (504, "did not answer in time")
        case .connectFailed: return (502, "refused the connection or is unreachable (\(client.detail))")
        case .malformedResponse: return (502, "sent a malformed response (\(client.detail))")
        case .connectionClosed: return (502, "closed the connection before a complete response (\(client.detail))")
        case .excludedAddress: return (502, "resolves to the proxy itself (\(client.detail))")
        default: return (502, "failed: \(client.code) \(client.detail)")
        }
    }
}
