import DiscoCore

// MARK: - Header rewriting on a head's bytes

extension ForwardingHeaders {
    /// What the byte-level rewriting does with one request field.
    public enum SimpleRequestField: Equatable, Sendable {
        /// `Host`: kept, and described by `X-Forwarded-Host` and `Forwarded`.
        case host
        /// Sent on as it came.
        case keep
        /// Not sent: a credential in `strip`, or a `Connection` that names no field.
        case drop
        /// A field only the general path handles: the forwarding fields a client sent (which
        /// are merged), `Upgrade`, hop-by-hop fields, a `Connection` naming fields, framing,
        /// and ``RoutingDecision/hopHeader`` (a request another sidecar routed here).
        case needsGeneralRewriting
    }

    /// The fate of a request field given as UTF-8 bytes, for a request without a body: what
    /// ``encodeRequestFields(_:client:strip:defaultHost:into:)`` would do with it, or that the
    /// request needs that general rewriting. `strip` holds lower-case names.
    public static func simpleRequestField(
        name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, strip: Set<String>
    ) -> SimpleRequestField {
        switch FieldRole(name) {
        case .host:
            return .host
        case .date, .other:
            if name.count == hopHeaderLength && FieldRole.bytesEqual(name, lowercased: lowercasedHopHeader) { return .needsGeneralRewriting }
            if !strip.isEmpty && strip.contains(where: { FieldRole.bytesEqual(name, lowercased: $0) }) { return .drop }
            return .keep
        case .connection:
            // `close` or `keep-alive` alone: the field goes, and it removes no other (Keep-Alive
            // itself is hop-by-hop and sends the request the general way).
            return isPlainConnection(value) ? .drop : .needsGeneralRewriting
        case .xForwardedFor, .xForwardedProto, .xForwardedHost, .forwarded, .upgrade, .hopByHop, .contentLength, .expect:
            return .needsGeneralRewriting
        }
    }

    /// Appends one kept field, `Name: value` and CRLF (the value as the parser trimmed it, with
    /// no line break: the bytes come from a validated head).
    public static func appendField(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(contentsOf: name)
        out.append(0x3A)
        out.append(0x20)
        out.append(contentsOf: value)
        out.append(0x0D)
        out.append(0x0A)
    }

    /// Appends the fields this hop adds after the kept ones, for a request that carried no
    /// forwarding fields of its own and whose `Host` is `host`: byte for byte what
    /// ``encodeRequestFields(_:client:strip:defaultHost:into:)`` ends with.
    public static func appendForwardingFields(host: UnsafeBufferPointer<UInt8>, client: ClientSide, to out: inout [UInt8]) {
        appendText("X-Forwarded-For: ", to: &out)
        appendValue(client.address ?? "unknown", to: &out)
        appendText("\r\nX-Forwarded-Proto: ", to: &out)
        appendValue(client.proto, to: &out)
        appendText("\r\nX-Forwarded-Host: ", to: &out)
        out.append(contentsOf: host)
        appendText("\r\nForwarded: for=", to: &out)
        appendForwardedNode(client.address, to: &out)
        appendText(";host=", to: &out)
        appendQuotedIfNeeded(host, to: &out)
        appendText(";proto=", to: &out)
        appendValue(client.proto, to: &out)
        appendText("\r\n", to: &out)
    }

    private static let lowercasedHopHeader = RoutingDecision.hopHeader.lowercased()
    private static let hopHeaderLength = RoutingDecision.hopHeader.utf8.count

    /// A `Connection` value that is exactly `close` or `keep-alive` (any case).
    private static func isPlainConnection(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        FieldRole.bytesEqual(value, lowercased: "close") || FieldRole.bytesEqual(value, lowercased: "keep-alive")
    }
}
