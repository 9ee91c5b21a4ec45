import DiscoCore
import DiscoNet

// MARK: - What the benchmark talks to

/// The two systems under test, and how each is written to and asked for its leader.
enum TargetKind: String, Sendable {
    /// discod: `POST /events`, `GET /leader`.
    case disco
    /// etcd 3.4 through its v3 JSON gateway: `POST /v3/kv/put`, `POST /v3/maintenance/status`.
    case etcd
    /// A service behind `disco-sidecar -hot-cold` or `disco-bench-http fenced-app`: `POST /orders`
    /// (200 = accepted by the fenced store behind it).
    case service

    /// The event both sides store: the same JSON bytes (etcd keeps them as the value).
    static func payload(client: Int, sequence: Int) -> [UInt8] {
        Array("{\"bench\":1,\"client\":\(client),\"n\":\(sequence)}".utf8)
    }

    /// One durable write of `payload` to the node at `base`.
    func writeRequest(base: String, client: Int, payload: [UInt8]) -> HTTPClientRequest {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        switch self {
        case .disco:
            return HTTPClientRequest(method: "POST", url: base + "/events", headers: headers, body: payload)
        case .etcd:
            // One key per client, overwritten: every put is still a new revision in etcd's log.
            let key = Base64.encode(Array("bench/\(client)".utf8))
            let value = Base64.encode(payload)
            let body = "{\"key\":\"\(key)\",\"value\":\"\(value)\"}"
            return HTTPClientRequest(method: "POST", url: base + "/v3/kv/put", headers: headers, body: Array(body.utf8))
        case .service:
            return HTTPClientRequest(method: "POST", url: base + "/orders", headers: headers, body: payload)
        }
    }

    /// Whether a write's answer means "accepted": 200 and, for etcd, a response header (the
    /// gateway answers errors with `{"error":...}`).
    func accepted(_ response: HTTPClientResponse) -> Bool {
        guard response.status == 200 else { return false }
        switch self {
        case .disco, .service:
            return true
        case .etcd:
            guard let body = try? JSONValue.parse(response.body) else { return false }
            return body["header"] != nil && body["error"] == nil
        }
    }

    /// The request that asks one node who leads.
    func leaderRequest(base: String) -> HTTPClientRequest {
        switch self {
        case .disco, .service:
            return HTTPClientRequest(method: "GET", url: base + "/leader")
        case .etcd:
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            return HTTPClientRequest(method: "POST", url: base + "/v3/maintenance/status", headers: headers, body: Array("{}".utf8))
        }
    }
}

// MARK: - Base64 (RFC 4648, with padding)

enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(triple >> 18 & 63)])
            out.append(alphabet[Int(triple >> 12 & 63)])
            out.append(index + 1 < bytes.count ? alphabet[Int(triple >> 6 & 63)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(triple & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
