import DiscoCore

// MARK: - What a header field is to the proxy, by name

/// The role a header field's name gives it in ``ForwardingHeaders``' rewriting, found by
/// comparing bytes without case (no lower-cased copy, no hashing): the rewriting runs for every
/// proxied request and response.
@usableFromInline
enum FieldRole: Equatable {
    case host, xForwardedFor, xForwardedProto, xForwardedHost, forwarded
    case upgrade, connection
    /// Keep-Alive, TE, Trailer, Transfer-Encoding, Proxy-Connection, Proxy-Authenticate,
    /// Proxy-Authorization (with Upgrade and Connection: ``ForwardingHeaders/hopByHop``).
    case hopByHop
    case contentLength, expect, date
    case other

    @usableFromInline
    init(_ name: String) {
        self = name.withBorrowedUTF8 { Self.classify($0) }
    }

    /// The role of a name given as UTF-8 bytes.
    @usableFromInline
    init(_ name: UnsafeBufferPointer<UInt8>) {
        self = Self.classify(name)
    }

    private static func classify(_ name: UnsafeBufferPointer<UInt8>) -> FieldRole {
        func named(_ lower: StaticString) -> Bool { equal(name, lower) }
        switch name.count {
        case 2: return named("te") ? .hopByHop : .other
        case 4: return named("host") ? .host : named("date") ? .date : .other
        case 6: return named("expect") ? .expect : .other
        case 7: return named("upgrade") ? .upgrade : named("trailer") ? .hopByHop : .other
        case 9: return named("forwarded") ? .forwarded : .other
        case 10: return named("connection") ? .connection : named("keep-alive") ? .hopByHop : .other
        case 14: return named("content-length") ? .contentLength : .other
        case 15: return named("x-forwarded-for") ? .xForwardedFor : .other
        case 16: return named("x-forwarded-host") ? .xForwardedHost : named("proxy-connection") ? .hopByHop : .other
        case 17: return named("x-forwarded-proto") ? .xForwardedProto : named("transfer-encoding") ? .hopByHop : .other
        case 18: return named("proxy-authenticate") ? .hopByHop : .other
        case 19: return named("proxy-authorization") ? .hopByHop : .other
        default: return .other
        }
    }

    /// Whether `name` equals `lowercased` (a lower-case name) ignoring ASCII case.
    @usableFromInline
    static func namesEqual(_ name: String, lowercased: String) -> Bool {
        name.withBorrowedUTF8 { bytes in lowercased.withBorrowedUTF8 { lower in equal(bytes, lower) } }
    }

    private static func equal(_ bytes: UnsafeBufferPointer<UInt8>, _ lower: StaticString) -> Bool {
        lower.withUTF8Buffer { equal(bytes, $0) }
    }

    /// Whether `bytes` equal `lowercased` (a lower-case name) ignoring ASCII case.
    static func bytesEqual(_ bytes: UnsafeBufferPointer<UInt8>, lowercased: String) -> Bool {
        lowercased.withBorrowedUTF8 { equal(bytes, $0) }
    }

    private static func equal(_ bytes: UnsafeBufferPointer<UInt8>, _ lower: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == lower.count else { return false }
        for index in 0..<bytes.count {
            let byte = bytes[index]
            let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if folded != lower[index] { return false }
        }
        return true
    }
}
