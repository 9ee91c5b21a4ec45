import DiscoCore

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
        var out: [Field] = []
        out.reserveCapacity(fields.count + 4)
        rewriteRequest(fields, client: client, upgrade: upgrade, strip: strip, trustedHop: trustedHop,
                       kept: { out.append($0) }, added: { out.append(Field(name: $0, value: $1)) })
        return out
    }

    /// The same rewriting (no upgrade, not a trusted hop), written as `Name: value` lines (CRLF
    /// after each) straight into `out`; when the request has no `Host`, `Host: defaultHost` comes
    /// first (what an HTTP client adds). Byte for byte what encoding ``request(_:client:upgrade:strip:trustedHop:)``'s
    /// fields gives, without making them: the proxy's inline path runs this for every request.
    @inlinable
    public static func encodeRequestFields<Field: ForwardableField>(
        _ fields: [Field], client: ClientSide, strip: Set<String> = [], defaultHost: String, into out: inout [UInt8]
    ) {
        // Each field's role is found once (by its name's bytes) and kept on the stack.
        withUnsafeTemporaryAllocation(of: FieldRole.self, capacity: fields.count) { roles in
            var hostIndex: Int?
            var forwardedFor = false
            var forwarded = false
            var listsFields = false
            for index in fields.indices {
                let role = FieldRole(fields[index].name)
                roles.initializeElement(at: index, to: role)
                switch role {
                case .host where hostIndex == nil: hostIndex = index
                case .xForwardedFor: forwardedFor = true
                case .forwarded: forwarded = true
                case .connection: listsFields = true
                default: break
                }
            }
            let named = listsFields ? connectionTokens(fields) : []
            if hostIndex == nil { appendLine("Host", defaultHost, to: &out) }
            for index in fields.indices {
                switch roles[index] {
                case .host:
                    appendLine(fields[index].name, fields[index].value, to: &out)
                case .xForwardedFor, .xForwardedProto, .xForwardedHost, .forwarded, .upgrade, .connection, .hopByHop, .contentLength, .expect:
                    continue
                case .date, .other:
                    if !named.isEmpty && named.contains(fields[index].name.lowercased()) { continue }
                    if !strip.isEmpty && strip.contains(where: { FieldRole.namesEqual(fields[index].name, lowercased: $0) }) { continue }
                    appendLine(fields[index].name, fields[index].value, to: &out)
                }
            }
            // X-Forwarded-For: what came, then the client.
            appendText("X-Forwarded-For: ", to: &out)
            if forwardedFor {
                for index in fields.indices where roles[index] == .xForwardedFor {
                    appendValue(fields[index].value, to: &out)
                    appendText(", ", to: &out)
                }
            }
            appendValue(client.address ?? "unknown", to: &out)
            appendText("\r\nX-Forwarded-Proto: ", to: &out)
            appendValue(client.proto, to: &out)
            appendText("\r\n", to: &out)
            if let hostIndex { appendLine("X-Forwarded-Host", fields[hostIndex].value, to: &out) }
            // Forwarded: what came, then this hop's element.
            appendText("Forwarded: ", to: &out)
            if forwarded {
                for index in fields.indices where roles[index] == .forwarded {
                    appendValue(fields[index].value, to: &out)
                    appendText(", ", to: &out)
                }
            }
            appendText("for=", to: &out)
            appendForwardedNode(client.address, to: &out)
            if let hostIndex {
                appendText(";host=", to: &out)
                appendQuotedIfNeeded(fields[hostIndex].value, to: &out)
            }
            appendText(";proto=", to: &out)
            appendValue(client.proto, to: &out)
            appendText("\r\n", to: &out)
        }
    }

    @usableFromInline
    static func appendLine(_ name: String, _ value: String, to out: inout [UInt8]) {
        name.withBorrowedUTF8 { out.append(contentsOf: $0) }
        out.append(0x3A)
        out.append(0x20)
        appendValue(value, to: &out)
        out.append(0x0D)
        out.append(0x0A)
    }

    /// ``forwardedNode(_:)`` written into `out`.
    @usableFromInline
    static func appendForwardedNode(_ address: String?, to out: inout [UInt8]) {
        guard let address else {
            appendText("unknown", to: &out)
            return
        }
        if address.withBorrowedUTF8({ $0.contains(0x3A) }) {
            appendText("\"[", to: &out)
            appendValue(address, to: &out)
            appendText("]\"", to: &out)
        } else {
            appendValue(address, to: &out)
        }
    }

    @usableFromInline
    static func appendText(_ text: StaticString, to out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// A value's bytes; a line break (which the parser never lets through) becomes a space, as
    /// the HTTP client's encoder does.
    @usableFromInline
    static func appendValue(_ value: String, to out: inout [UInt8]) {
        // Through the string's contiguous bytes: one copy when (as always from the parser) no
        // line break is there, instead of a generic append and a second pass over the output.
        value.withBorrowedUTF8 { bytes in
            var clean = true
            for index in 0..<bytes.count where bytes[index] == 0x0D || bytes[index] == 0x0A {
                clean = false
                break
            }
            if clean {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes { out.append(byte == 0x0D || byte == 0x0A ? 0x20 : byte) }
        }
    }

    /// ``quotedIfNeeded(_:)`` written into `out`.
    @usableFromInline
    static func appendQuotedIfNeeded(_ value: String, to out: inout [UInt8]) {
        value.withBorrowedUTF8 { appendQuotedIfNeeded($0, to: &out) }
    }

    /// Whether `bytes` can go as they are (a token), and if not, whether the quoted string
    /// needs escapes (`"`, `\`) or line breaks replaced: one pass for both writers.
    @usableFromInline @inline(__always)
    static func quoting(_ bytes: UnsafeBufferPointer<UInt8>) -> (token: Bool, needsEscape: Bool) {
        // Index loops: the generic `allSatisfy`/`contains(where:)` walk an iterator byte by byte.
        var token = !bytes.isEmpty
        var needsEscape = false
        for index in 0..<bytes.count {
            let byte = bytes[index]
            if !HTTPToken.isTokenByte(byte) { token = false }
            if byte == 0x22 || byte == 0x5C || byte == 0x0D || byte == 0x0A { needsEscape = true }
        }
        return (token, needsEscape)
    }

    /// ``quotedIfNeeded(_:)`` of UTF-8 bytes, written into `out`.
    @usableFromInline
    static func appendQuotedIfNeeded(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        let (token, needsEscape) = quoting(bytes)
        if token {
            out.append(contentsOf: bytes)
            return
        }
        out.append(0x22)
        if !needsEscape {
            // The usual case (a host with a port): nothing to escape, one copy.
            out.append(contentsOf: bytes)
        } else {
            for byte in bytes {
                if byte == 0x22 || byte == 0x5C { out.append(0x5C) }
                out.append(byte == 0x0D || byte == 0x0A ? 0x20 : byte)
            }
        }
        out.append(0x22)
    }

    /// The request rewriting itself: each field kept as it came goes to `kept`, each field the
    /// proxy writes to `added`, in the order they are sent.
    private static func rewriteRequest<Field: ForwardableField>(
        _ fields: [Field], client: ClientSide, upgrade: Bool, strip: Set<String>, trustedHop: Bool,
        kept: (Field) -> Void, added: (String, String) -> Void
    ) {
        let named = connectionTokens(fields)
        var host: String?
        var forwardedFor: String?
        var forwardedProto: String?
        var forwardedHost: String?
        var forwarded: String?
        for field in fields {
            switch FieldRole(field.name) {
            case .host:
                if host == nil { host = field.value }
                kept(field)
            case .xForwardedFor:
                forwardedFor = forwardedFor.map { $0 + ", " + field.value } ?? field.value
            case .xForwardedProto:
                if forwardedProto == nil { forwardedProto = field.value }
            case .xForwardedHost:
                if forwardedHost == nil { forwardedHost = field.value }
            case .forwarded:
                forwarded = forwarded.map { $0 + ", " + field.value } ?? field.value
            case .upgrade where upgrade:
                kept(field)
            case .upgrade, .connection, .hopByHop, .contentLength, .expect:
                continue
            case .date, .other:
                if !named.isEmpty && named.contains(field.name.lowercased()) { continue }
                if !strip.isEmpty && strip.contains(where: { FieldRole.namesEqual(field.name, lowercased: $0) }) { continue }
                kept(field)
            }
        }
        if upgrade { added("Connection", "Upgrade") }
        let clientText = client.address ?? "unknown"
        added("X-Forwarded-For", forwardedFor.map { $0 + ", " + clientText } ?? clientText)
        let proto = trustedHop ? (forwardedProto ?? client.proto) : client.proto
        added("X-Forwarded-Proto", proto)
        if let originalHost = trustedHop ? (forwardedHost ?? host) : host {
            added("X-Forwarded-Host", originalHost)
        }
        var element = "for=" + forwardedNode(client.address)
        if let host { element += ";host=" + quotedIfNeeded(host) }
        element += ";proto=" + client.proto
        added("Forwarded", forwarded.map { $0 + ", " + element } ?? element)
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

    /// Whether ``response(_:upgrade:)`` keeps a field of this name (UTF-8 bytes) when the
    /// response's `Connection` names no fields (no upgrade).
    public static func keepsResponseField(named name: UnsafeBufferPointer<UInt8>) -> Bool {
        switch FieldRole(name) {
        case .upgrade, .connection, .hopByHop, .contentLength, .date: false
        case .host, .xForwardedFor, .xForwardedProto, .xForwardedHost, .forwarded, .expect, .other: true
        }
    }

    /// Lower-case field names that `Connection` lists (other than `close`, `keep-alive` and `upgrade`).
    @inlinable
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
        if !value.isEmpty, value.utf8.allSatisfy(HTTPToken.isTokenByte) { return value }
        var quoted: [UInt8] = [0x22]
        quoted.reserveCapacity(value.utf8.count + 4)
        for byte in value.utf8 {
            if byte == 0x22 || byte == 0x5C { quoted.append(0x5C) }
            quoted.append(byte)
        }
        quoted.append(0x22)
        return String(decoding: quoted, as: UTF8.self)
    }
}

extension Substring {
    @usableFromInline
    func trimmingCharacters(_ set: String) -> Substring {
        var result = self
        while let first = result.first, set.contains(first) { result = result.dropFirst() }
        while let last = result.last, set.contains(last) { result = result.dropLast() }
        return result
    }
}
