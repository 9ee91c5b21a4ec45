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
        out.appendWriting(atMost: fieldBound(name: name, value: value)) { writeField(name: name, value: value, to: &$0) }
    }

    /// Bytes ``writeField(name:value:to:)`` writes.
    public static func fieldBound(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) -> Int {
        name.count + value.count + 4
    }

    /// ``appendField(name:value:to:)`` through a writer.
    public static func writeField(name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>, to out: inout ByteWriter) {
        out.write(name)
        out.write(0x3A)
        out.write(0x20)
        out.write(value)
        out.write(0x0D)
        out.write(0x0A)
    }

    /// Appends the fields this hop adds after the kept ones, for a request that carried no
    /// forwarding fields of its own and whose `Host` is `host`: byte for byte what
    /// ``encodeRequestFields(_:client:strip:defaultHost:into:)`` ends with.
    public static func appendForwardingFields(host: UnsafeBufferPointer<UInt8>, client: ClientSide, to out: inout [UInt8]) {
        out.appendWriting(atMost: forwardingFieldsBound(host: host, client: client)) {
            writeForwardingFields(host: host, client: client, to: &$0)
        }
    }

    /// At least the bytes ``writeForwardingFields(host:client:to:)`` writes: the literals, the
    /// address twice (bracketed and quoted the second time), the proto twice, and the host
    /// once as it is and once quoted with every byte escaped.
    public static func forwardingFieldsBound(host: UnsafeBufferPointer<UInt8>, client: ClientSide) -> Int {
        let address = client.address?.utf8.count ?? 7
        return 128 + 2 * address + 2 * client.proto.utf8.count + 3 * host.count
    }

    /// ``appendForwardingFields(host:client:to:)`` through a writer (one append for all of them).
    /// The address's and the proto's bytes are borrowed once each, though each is written twice.
    public static func writeForwardingFields(host: UnsafeBufferPointer<UInt8>, client: ClientSide, to out: inout ByteWriter) {
        client.proto.withBorrowedUTF8 { proto in
            if let address = client.address {
                address.withBorrowedUTF8 { address in
                    writeForwardingFields(host: host, address: address, proto: proto, to: &out)
                }
            } else {
                writeForwardingFields(host: host, address: nil, proto: proto, to: &out)
            }
        }
    }

    /// The same with the client's address (nil: unknown) and proto as bytes, each looked at
    /// once (for line breaks, and the address for a colon) though each is written twice.
    private static func writeForwardingFields(
        host: UnsafeBufferPointer<UInt8>, address: UnsafeBufferPointer<UInt8>?, proto: UnsafeBufferPointer<UInt8>, to out: inout ByteWriter
    ) {
        let addressClean = address.map(holdsNoLineBreak) ?? true
        let protoClean = holdsNoLineBreak(proto)
        out.write("X-Forwarded-For: " as StaticString)
        if let address { writeValue(address, clean: addressClean, to: &out) } else { out.write("unknown" as StaticString) }
        out.write("\r\nX-Forwarded-Proto: " as StaticString)
        writeValue(proto, clean: protoClean, to: &out)
        out.write("\r\nX-Forwarded-Host: " as StaticString)
        out.write(host)
        out.write("\r\nForwarded: for=" as StaticString)
        if let address {
            if address.contains(0x3A) {
                out.write("\"[" as StaticString)
                writeValue(address, clean: addressClean, to: &out)
                out.write("]\"" as StaticString)
            } else {
                writeValue(address, clean: addressClean, to: &out)
            }
        } else {
            out.write("unknown" as StaticString)
        }
        out.write(";host=" as StaticString)
        writeQuotedIfNeeded(host, to: &out)
        out.write(";proto=" as StaticString)
        writeValue(proto, clean: protoClean, to: &out)
        out.write("\r\n" as StaticString)
    }

    /// Whether `bytes` hold no CR or LF.
    private static func holdsNoLineBreak(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        for index in 0..<bytes.count where bytes[index] == 0x0D || bytes[index] == 0x0A { return false }
        return true
    }

    /// ``appendValue(_:to:)`` through a writer: a line break becomes a space. `clean`: `bytes`
    /// hold none (``holdsNoLineBreak(_:)``), and are copied as they are.
    private static func writeValue(_ bytes: UnsafeBufferPointer<UInt8>, clean: Bool, to out: inout ByteWriter) {
        guard clean else {
            for byte in bytes { out.write(byte == 0x0D || byte == 0x0A ? 0x20 : byte) }
            return
        }
        out.write(bytes)
    }

    /// ``appendQuotedIfNeeded(_:to:)`` through a writer (at most twice the bytes and two quotes).
    private static func writeQuotedIfNeeded(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout ByteWriter) {
        let (token, needsEscape) = quoting(bytes)
        if token {
            out.write(bytes)
            return
        }
        out.write(0x22)
        if !needsEscape {
            out.write(bytes)
        } else {
            for byte in bytes {
                if byte == 0x22 || byte == 0x5C { out.write(0x5C) }
                out.write(byte == 0x0D || byte == 0x0A ? 0x20 : byte)
            }
        }
        out.write(0x22)
    }

    private static let lowercasedHopHeader = RoutingDecision.hopHeader.lowercased()
    private static let hopHeaderLength = RoutingDecision.hopHeader.utf8.count

    /// A `Connection` value that is exactly `close` or `keep-alive` (any case).
    private static func isPlainConnection(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        FieldRole.bytesEqual(value, lowercased: "close") || FieldRole.bytesEqual(value, lowercased: "keep-alive")
    }
}
