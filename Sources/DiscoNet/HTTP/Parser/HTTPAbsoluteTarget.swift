// MARK: - The forms of a request target

/// The form a request's target was received in (RFC 9112 §3.2).
public enum HTTPRequestTargetForm: Sendable, Hashable {
    /// `/path?query`.
    case origin
    /// `http://host:port/path?query` (or `https://`): the parsed head's target is its path and
    /// query (`/` when the path is empty; `*` for an `OPTIONS` with neither path nor query,
    /// RFC 9112 §3.2.4) and its `Host` field the target's authority.
    case absolute
    /// `host:port`, for `CONNECT`.
    case authority
    /// `*`, for a server-wide `OPTIONS`.
    case asterisk
}

// MARK: - An absolute-form target read

/// An `http` or `https` absolute-form target split into what a server uses of it (RFC 9112
/// §3.2.2): its authority, which stands in for the received `Host`, and its path and query in
/// origin form. The authority is checked against RFC 3986's `host [ ":" port ]` (no userinfo, a
/// host that is not empty), so nothing but a host and a port can reach a `Host` field from it.
struct HTTPAbsoluteTarget: Hashable {
    /// `host` or `host:port` as sent (an empty port, `host:`, is dropped: RFC 3986 §6.2.3).
    let authority: String
    /// The path and query (`/` when the target has no path).
    let originForm: String
    /// True when the target has neither a path nor a query (`http://host:port`): for `OPTIONS`
    /// that is the server as a whole, which goes on as `*` (RFC 9112 §3.2.4).
    let namesServerOnly: Bool

    /// Reads `target` (printable ASCII, as the request line allows it). Nil when it is not
    /// absolute-form at all (no `scheme:` at its start); throws when it is one this server does
    /// not take: another scheme than `http`/`https` (compared ignoring case, RFC 3986 §3.1), no
    /// `//authority`, userinfo, or an authority that is not `host[:port]`.
    static func parse(_ target: String) throws(HTTPParseError) -> HTTPAbsoluteTarget? {
        let bytes = Array(target.utf8)
        guard let first = bytes.first, isAlpha(first) else { return nil }
        var index = 1
        while index < bytes.count, isSchemeByte(bytes[index]) { index += 1 }
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
        let scheme = String(decoding: bytes[0..<index], as: UTF8.self).lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw .bad("request target scheme '\(excerpt(bytes[0..<index]))' is not supported; expected a path starting with '/' "
                + "or an absolute http:// or https:// URL")
        }
        index += 1
        guard index + 1 < bytes.count, bytes[index] == slash, bytes[index + 1] == slash else {
            throw .bad("request target '\(excerpt(bytes[...]))' has no authority; expected '\(scheme)://host[:port]/path'")
        }
        index += 2
        let authorityStart = index
        while index < bytes.count, bytes[index] != slash, bytes[index] != UInt8(ascii: "?") { index += 1 }
        let authority = try checkedAuthority(bytes[authorityStart..<index], scheme: scheme)
        let rest = bytes[index...]
        let originForm: String
        if rest.first == slash {
            originForm = String(decoding: rest, as: UTF8.self)
        } else {
            // No path (`http://h` or `http://h?q`): the path is `/` (RFC 9112 §3.2.1).
            originForm = "/" + String(decoding: rest, as: UTF8.self)
        }
        return HTTPAbsoluteTarget(authority: authority, originForm: originForm, namesServerOnly: rest.isEmpty)
    }

    // MARK: The authority

    /// `host [ ":" port ]` of RFC 3986 §3.2, as sent; userinfo, an empty host and anything else
    /// are refused.
    private static func checkedAuthority(_ authority: ArraySlice<UInt8>, scheme: String) throws(HTTPParseError) -> String {
        let expected = "expected '\(scheme)://host[:port]/path'"
        if authority.contains(UInt8(ascii: "@")) {
            // The credentials are not repeated in the answer.
            throw .bad("request target carries userinfo (before '@') in its authority; send credentials in the Authorization "
                + "header and the target as '\(scheme)://host[:port]/path'")
        }
        guard !authority.isEmpty else { throw .bad("request target has an empty authority; an \(scheme) URI needs a host; \(expected)") }
        var hostEnd: Int
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")),
                  isIPLiteral(authority[(authority.startIndex + 1)..<close]) else {
                throw .bad("request target authority '\(excerpt(authority))' has a malformed IP literal; expected '[IPv6 address]' "
                    + "such as '[::1]:8080'")
            }
            hostEnd = close + 1
            guard hostEnd == authority.endIndex || authority[hostEnd] == UInt8(ascii: ":") else {
                throw .bad("request target authority '\(excerpt(authority))' has bytes after its IP literal; \(expected)")
            }
        } else {
            hostEnd = authority.firstIndex(of: UInt8(ascii: ":")) ?? authority.endIndex
            let host = authority[authority.startIndex..<hostEnd]
            guard !host.isEmpty else {
                throw .bad("request target authority '\(excerpt(authority))' has no host; an \(scheme) URI needs one; \(expected)")
            }
            if let bad = firstInvalidRegNameByte(host) {
                throw .bad("invalid character '\(excerpt(host[bad...bad]))' in the host of request target authority '\(excerpt(authority))'; "
                    + "a host is letters, digits and '-._~' (or %XX), an IPv4 address or a bracketed IPv6 address")
            }
        }
        guard hostEnd < authority.endIndex else { return String(decoding: authority, as: UTF8.self) }
        // A port: `:` then digits; an empty one is dropped.
        let port = authority[(hostEnd + 1)...]
        guard !port.isEmpty else { return String(decoding: authority[authority.startIndex..<hostEnd], as: UTF8.self) }
        var value = 0
        for byte in port {
            guard byte >= 0x30, byte <= 0x39, value <= 65_535 else {
                throw .bad("request target authority '\(excerpt(authority))' has port '\(excerpt(port))'; expected a number from 0 to 65535")
            }
            value = value * 10 + Int(byte - 0x30)
        }
        guard value <= 65_535 else {
            throw .bad("request target authority '\(excerpt(authority))' has port '\(excerpt(port))'; expected a number from 0 to 65535")
        }
        return String(decoding: authority, as: UTF8.self)
    }

    /// The first byte of `host` that a `reg-name` (which also covers an IPv4 address) may not
    /// hold: unreserved, sub-delims and `%XX` only (RFC 3986 §3.2.2). Nil when there is none.
    private static func firstInvalidRegNameByte<Bytes: RandomAccessCollection<UInt8>>(_ host: Bytes) -> Int?
        where Bytes.Index == Int {
        var index = host.startIndex
        while index < host.endIndex {
            let byte = host[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < host.endIndex, isHexDigit(host[index + 1]), isHexDigit(host[index + 2]) else { return index }
                index += 3
                continue
            }
            guard isUnreserved(byte) || isSubDelim(byte) else { return index }
            index += 1
        }
        return nil
    }

    /// `IPv6address / IPvFuture` between the brackets (RFC 3986 §3.2.2; no zone identifier).
    private static func isIPLiteral(_ literal: ArraySlice<UInt8>) -> Bool {
        if let first = literal.first, first == UInt8(ascii: "v") || first == UInt8(ascii: "V") {
            // IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
            guard let dot = literal.firstIndex(of: UInt8(ascii: ".")), dot > literal.startIndex + 1, dot + 1 < literal.endIndex else { return false }
            return literal[(literal.startIndex + 1)..<dot].allSatisfy(isHexDigit)
                && literal[(dot + 1)...].allSatisfy { isUnreserved($0) || isSubDelim($0) || $0 == UInt8(ascii: ":") }
        }
        return isIPv6(literal)
    }

    /// RFC 3986's `IPv6address`: eight 16-bit pieces of 1-4 hex digits (the last two may be an
    /// IPv4 address), at most one `::` standing for one or more zero pieces.
    static func isIPv6(_ text: ArraySlice<UInt8>) -> Bool {
        let bytes = Array(text)
        guard bytes.count >= 2, bytes.count <= 45 else { return false }
        var pieces = 0
        var compressed = false
        var index = 0
        if bytes.starts(with: [0x3A, 0x3A]) {
            compressed = true
            index = 2
            if index == bytes.count { return true }
        } else if bytes[0] == 0x3A {
            return false
        }
        while index < bytes.count {
            let start = index
            while index < bytes.count, isHexDigit(bytes[index]) { index += 1 }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                // The last 32 bits as an IPv4 address.
                guard isIPv4(bytes[start...]) else { return false }
                pieces += 2
                index = bytes.count
                break
            }
            let digits = index - start
            guard digits >= 1, digits <= 4 else { return false }
            pieces += 1
            guard index < bytes.count else { break }
            guard bytes[index] == 0x3A else { return false }
            index += 1
            if index < bytes.count, bytes[index] == 0x3A {
                guard !compressed else { return false }
                compressed = true
                index += 1
                if index == bytes.count { break }
            } else if index == bytes.count {
                // A single trailing `:`.
                return false
            }
        }
        return compressed ? pieces <= 7 : pieces == 8
    }

    /// `dec-octet "." dec-octet "." dec-octet "." dec-octet`, no leading zeros.
    private static func isIPv4(_ text: ArraySlice<UInt8>) -> Bool {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return false }
            if part.count > 1, part.first == 0x30 { return false }
            let value = part.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            guard value <= 255 else { return false }
        }
        return true
    }

    // MARK: Characters

    private static let slash = UInt8(ascii: "/")

    private static func isAlpha(_ byte: UInt8) -> Bool { (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func isHexDigit(_ byte: UInt8) -> Bool { isDigit(byte) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66) }

    /// `ALPHA / DIGIT / "+" / "-" / "."`.
    private static func isSchemeByte(_ byte: UInt8) -> Bool {
        isAlpha(byte) || isDigit(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    /// `ALPHA / DIGIT / "-" / "." / "_" / "~"`.
    private static func isUnreserved(_ byte: UInt8) -> Bool {
        isAlpha(byte) || isDigit(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
            || byte == UInt8(ascii: "~")
    }

    /// `"!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="`.
    private static func isSubDelim(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    /// Up to 100 bytes of `bytes` (printable ASCII, as the request line allows) for an error.
    private static func excerpt(_ bytes: ArraySlice<UInt8>) -> String {
        let text = String(decoding: bytes.prefix(100), as: UTF8.self)
        return bytes.count > 100 ? text + "…" : text
    }
}

// MARK: - A Host field's value

extension HTTPAbsoluteTarget {
    /// Whether `value` is a valid `Host` field value (RFC 9110 §7.2): `uri-host [ ":" port ]` as
    /// RFC 3986 §3.2.2 writes a host (a reg-name of unreserved, sub-delims and `%XX`, an IPv4
    /// address, or a bracketed IPv6 literal), a port of up to 65535, or nothing at all (a target
    /// URI without an authority). No userinfo, no path, no spaces.
    static func isValidHostField(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        if value.isEmpty { return true }
        let colon = UInt8(ascii: ":")
        var hostEnd: Int
        if value[0] == UInt8(ascii: "[") {
            guard let close = value.firstIndex(of: UInt8(ascii: "]")), isIPLiteral(Array(value[1..<close])[...]) else { return false }
            hostEnd = close + 1
            guard hostEnd == value.count || value[hostEnd] == colon else { return false }
        } else {
            hostEnd = value.firstIndex(of: colon) ?? value.count
            guard hostEnd > 0, isRegName(UnsafeBufferPointer(rebasing: value[0..<hostEnd])) else { return false }
        }
        guard hostEnd < value.count else { return true }
        // `port = *DIGIT`: an empty one is allowed (RFC 3986 §3.2.3).
        var port = 0
        for byte in value[(hostEnd + 1)...] {
            guard isDigit(byte) else { return false }
            port = port * 10 + Int(byte - 0x30)
            guard port <= 65_535 else { return false }
        }
        return true
    }

    /// `reg-name`, which an IPv4 address also is: unreserved, sub-delims and `%XX`, not empty.
    private static func isRegName(_ host: UnsafeBufferPointer<UInt8>) -> Bool {
        !host.isEmpty && firstInvalidRegNameByte(host) == nil
    }
}
