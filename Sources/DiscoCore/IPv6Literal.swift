// MARK: - IPv6 literals in canonical form

/// The text form of IPv6 addresses: one address has many spellings (`0:0:0:0:0:0:0:1`, `0::1`,
/// `::1`, upper or lower case), and comparing addresses as text needs one of them.
public enum IPv6Literal {
    /// The 16 bytes of an IPv6 literal (no brackets, no `%zone`): eight groups of 1–4 hex
    /// digits, at most one `::` for a run of zero groups, and optionally a dotted IPv4 address
    /// as the last 32 bits. Nil for anything else.
    public static func bytes(_ text: Substring) -> [UInt8]? {
        let groups: [UInt16]
        if let gap = text.firstRange(of: "::") {
            guard let head = parseGroups(text[..<gap.lowerBound], ipv4Tail: false),
                  let tail = parseGroups(text[gap.upperBound...], ipv4Tail: true),
                  head.count + tail.count <= 7
            else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = parseGroups(text, ipv4Tail: true), all.count == 8 else { return nil }
            groups = all
        }
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// `host` in the form RFC 5952 recommends (and the kernel's `inet_ntop` prints) when it is an
    /// IPv6 literal, bracketed or not, with an optional `%zone` kept as it is: lower case, no
    /// leading zeros, the longest run of two or more zero groups (the first of equal runs) as
    /// `::`, an IPv4-compatible address as `::a.b.c.d` as inet_ntop does, and an IPv4-mapped
    /// one as the IPv4 address `a.b.c.d` it stands for (as DiscoNet's `SocketAddress.host`
    /// prints an IPv4 client of a dual-stack listener). Any other host is returned lower-cased.
    public static func canonical(_ host: String) -> String {
        var text = Substring(host.lowercased())
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        var zone: Substring = ""
        if let percent = text.firstIndex(of: "%") {
            zone = text[percent...]
            text = text[..<percent]
        }
        guard text.contains(":"), let bytes = bytes(text) else { return host.lowercased() }
        return format(bytes) + zone
    }

    // MARK: Parsing and printing

    private static func parseGroups(_ text: Substring, ipv4Tail: Bool) -> [UInt16]? {
        if text.isEmpty { return [] }
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (index, field) in fields.enumerated() {
            if ipv4Tail, index == fields.count - 1, field.contains(".") {
                guard let quad = ipv4(field) else { return nil }
                groups.append(UInt16(quad[0]) << 8 | UInt16(quad[1]))
                groups.append(UInt16(quad[2]) << 8 | UInt16(quad[3]))
                continue
            }
            guard (1...4).contains(field.utf8.count), field.utf8.allSatisfy(isHexDigit),
                  let value = UInt16(field, radix: 16)
            else { return nil }
            groups.append(value)
        }
        return groups
    }

    private static func ipv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var quad: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let value = UInt8(part)
            else { return nil }
            quad.append(value)
        }
        return quad
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46)
    }

    private static func format(_ bytes: [UInt8]) -> String {
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return bytes[12...].map(String.init).joined(separator: ".")
        }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = 0
        var bestLength = 0
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8, groups[end] == 0 { end += 1 }
            if end - index > bestLength {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        func hex(_ range: Range<Int>) -> String { range.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
        guard bestLength >= 2 else { return hex(0..<8) }
        // As inet_ntop: six zero groups and then anything but 0 or 1 in the last 32 bits are
        // written as the IPv4-compatible address ::a.b.c.d.
        if bestStart == 0, bestLength == 6 { return "::" + bytes[12...].map(String.init).joined(separator: ".") }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
