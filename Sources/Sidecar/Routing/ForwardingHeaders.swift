// MARK: - Header rewriting

/// A header field the rewriting works on directly: the proxy's own field type conforms, so its
/// headers are rewritten in place of being copied to `(name, value)` pairs and back.
public protocol ForwardableField {
    var name: String { get }
    var value: String { get }
    init(name: String, value: String)
}

/// How a request's and a response's header fields change on their way through the proxy
/// (RFC 9110 §7.6.1, RFC 7239): pure functions over fields in order, as `(name, value)` pairs or
/// any ``ForwardableField``.
public enum ForwardingHeaders {
    /// A `(name, value)` pair as a ``ForwardableField``.
    struct Pair: ForwardableField {
        let name: String
        let value: String
        init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Fields that describe one connection, never forwarded (besides those `Connection` names).
    public static let hopByHop: Set<String> = [
        "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-connection", "proxy-authenticate", "proxy-authorization",
    ]

    /// What the proxy knows about the client's side of a request.
    public struct ClientSide: Hashable, Sendable {
        /// The client's IP address as text (`10.0.0.7`, `::1`), nil when unknown.
        public var address: String?
        /// `http` or `https`: how the client reached the proxy.
        public var proto: String

        public init(address: String?, proto: String) {
            self.address = address
            self.proto = proto
        }
    }

    /// The request fields sent upstream: hop-by-hop fields and those `Connection` lists are
    /// removed (for a WebSocket handshake, `Upgrade` and `Connection: Upgrade` are kept), as are
    /// `Content-Length` and `Expect` (the proxy frames the body itself) and every field in
    /// `strip` (lower-case names: credentials); `Host` is kept; `X-Forwarded-For` gets the
    /// client appended; `X-Forwarded-Proto`, `X-Forwarded-Host` and `Forwarded` describe this
    /// hop. When `trustedHop` (the request came from another sidecar of the cluster), the
    /// `X-Forwarded-Proto`/`-Host` it set are kept, since they describe the original client.
    public static func request(
        _ fields: [(name: String, value: String)], client: ClientSide, upgrade: Bool = false,
        strip: Set<String> = [], trustedHop: Bool = false
    ) -> [(name: String, value: String)] {
        request(fields.map { Pair(name: $0.name, value: $0.value) }, client: client, upgrade: upgrade, strip: strip, trustedHop: trustedHop)
            .map { (name: $0.name, value: $0.value) }
    }

    /// The same rewriting of a request's fields, on any field type.
    public static func request<Field: ForwardableField>(
        _ fields: [Field], client: ClientSide, upgrade: Bool = false, strip: Set<String> = [], trustedHop: Bool = false
    ) -> [Field] {
        let named = connectionTokens(fields)
        var host: String?
        var forwardedFor: String?
        var forwardedProto: String?
        var forwardedHost: String?
        var forwarded: String?
        var out: [Field] = []
        out.reserveCapacity(fields.count + 4)
        for field in fields {
            switch FieldRole(field.name) {
            case .host:
                if host == nil { host = field.value }
                out.append(field)
            case .xForwardedFor:
                forwardedFor = forwardedFor.map { $0 + ", " + field.value } ?? field.value
            case .xForwardedProto:
                if forwardedProto == nil { forwardedProto = field.value }
            case .xForwardedHost:
                if forwardedHost == nil { forwardedHost = field.value }
            case .forwarded:
                forwarded = forwarded.map { $0 + ", " + field.value } ?? field.value
            case .upgrade where upgrade:
                out.append(field)
            case .upgrade, .connection, .hopByHop, .contentLength, .expect:
                continue
            case .date, .other:
                if !named.isEmpty && named.contains(field.name.lowercased()) { continue }
                if !strip.isEmpty && strip.contains(where: { FieldRole.namesEqual(field.name, lowercased: $0) }) { continue }
                out.append(field)
            }
        }
        if upgrade { out.append(Field(name: "Connection", value: "Upgrade")) }
        let clientText = client.address ?? "unknown"
        out.append(Field(name: "X-Forwarded-For", value: forwardedFor.map { $0 + ", " + clientText } ?? clientText))
        let proto = trustedHop ? (forwardedProto ?? client.proto) : client.proto
        out.append(Field(name: "X-Forwarded-Proto", value: proto))
        if let originalHost = trustedHop ? (forwardedHost ?? host) : host {
            out.append(Field(name: "X-Forwarded-Host", value: originalHost))
        }
        var element = "for=" + forwardedNode(client.address)
        if let host { element += ";host=" + quotedIfNeeded(host) }
        element += ";proto=" + client.proto
        out.append(Field(name: "Forwarded", value: forwarded.map { $0 + ", " + element } ?? element))
        return out
    }

    /// The response fields sent to the client: hop-by-hop fields, those `Connection` lists and
    /// the upstream's framing (`Content-Length`, `Transfer-Encoding`) and `Date` are removed;
    /// the proxy's server frames the body and dates the response itself.
    public static func response(_ fields: [(name: String, value: String)], upgrade: Bool = false) -> [(name: String, value: String)] {
        response(fields.map { Pair(name: $0.name, value: $0.value) }, upgrade: upgrade).map { (name: $0.name, value: $0.value) }
    }

    /// The same rewriting of a response's fields, on any field type.
    public static func response<Field: ForwardableField>(_ fields: [Field], upgrade: Bool = false) -> [Field] {
        let named = connectionTokens(fields)
        var out: [Field] = []
        out.reserveCapacity(fields.count)
        for field in fields {
            switch FieldRole(field.name) {
            case .upgrade where upgrade:
                out.append(field)
            case .upgrade, .connection, .hopByHop, .contentLength, .date:
                continue
            case .host, .xForwardedFor, .xForwardedProto, .xForwardedHost, .forwarded, .expect, .other:
                if !named.isEmpty && named.contains(field.name.lowercased()) { continue }
                out.append(field)
            }
        }
        return out
    }

    /// Lower-case field names that `Connection` lists (other than `close`, `keep-alive` and `upgrade`).
    static func connectionTokens<Field: ForwardableField>(_ fields: [Field]) -> Set<String> {
        var tokens: Set<String> = []
        for field in fields where FieldRole(field.name) == .connection {
            for token in field.value.split(separator: ",") {
                let name = token.trimmingCharacters(" \t").lowercased()
                if !name.isEmpty, name != "close", name != "upgrade" { tokens.insert(name) }
            }
        }
        return tokens
    }

    /// RFC 7239 `node`: IPv4 as is, IPv6 as `"[v6]"`, `unknown` when not known.
    static func forwardedNode(_ address: String?) -> String {
        guard let address else { return "unknown" }
        return address.contains(":") ? "\"[\(address)]\"" : address
    }

    /// A `Forwarded` value as a token, or quoted when it holds characters a token cannot.
    static func quotedIfNeeded(_ value: String) -> String {
        if !value.isEmpty, value.utf8.allSatisfy(isTokenByte) { return value }
        var quoted: [UInt8] = [0x22]
        quoted.reserveCapacity(value.utf8.count + 4)
        for byte in value.utf8 {
            if byte == 0x22 || byte == 0x5C { quoted.append(0x5C) }
            quoted.append(byte)
        }
        quoted.append(0x22)
        return String(decoding: quoted, as: UTF8.self)
    }

    /// RFC 9110 `tchar`, by table.
    static func isTokenByte(_ byte: UInt8) -> Bool { tokenBytes[Int(byte)] }

    private static let tokenBytes: [Bool] = (0..<256).map { value in
        let byte = UInt8(value)
        return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            || "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(_ set: String) -> Substring {
        var result = self
        while let first = result.first, set.contains(first) { result = result.dropFirst() }
        while let last = result.last, set.contains(last) { result = result.dropLast() }
        return result
    }
}
