// MARK: - Types and classes

/// A resource record TYPE (RFC 1035 §3.2.2, RFC 3596, RFC 2782, RFC 6891).
public struct DNSRecordType: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSRecordType(rawValue: 1)
    public static let ns = DNSRecordType(rawValue: 2)
    public static let cname = DNSRecordType(rawValue: 5)
    public static let soa = DNSRecordType(rawValue: 6)
    public static let txt = DNSRecordType(rawValue: 16)
    public static let aaaa = DNSRecordType(rawValue: 28)
    public static let srv = DNSRecordType(rawValue: 33)
    public static let opt = DNSRecordType(rawValue: 41)

    public var description: String {
        switch self {
        case .a: "A"
        case .ns: "NS"
        case .cname: "CNAME"
        case .soa: "SOA"
        case .txt: "TXT"
        case .aaaa: "AAAA"
        case .srv: "SRV"
        case .opt: "OPT"
        default: "TYPE\(rawValue)"
        }
    }
}

/// The Internet class, the only one Disco asks for.
public enum DNSClass {
    public static let internet: UInt16 = 1
}

// MARK: - Addresses

/// An IPv4 or IPv6 address as carried in A and AAAA records.
public struct DNSIPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 bytes (IPv6), network order.
    public let bytes: [UInt8]

    /// Creates an address from 4 or 16 bytes; `nil` for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public var isIPv6: Bool { bytes.count == 16 }

    /// Dotted quad for IPv4; RFC 5952 text (lower case, longest zero run as `::`) for IPv6.
    public var description: String {
        guard isIPv6 else { return bytes.map(String.init).joined(separator: ".") }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var bestStart = -1
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
        func hex(_ range: Range<Int>) -> String {
            range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
        }
        guard bestLength >= 2 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    /// IPv4 before IPv6, then byte order.
    public static func < (lhs: DNSIPAddress, rhs: DNSIPAddress) -> Bool {
        if lhs.bytes.count != rhs.bytes.count { return lhs.bytes.count < rhs.bytes.count }
        return lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }
}

// MARK: - SRV

/// The RDATA of an SRV record (RFC 2782).
public struct SRVData: Hashable, Sendable {
    public var priority: UInt16
    public var weight: UInt16
    public var port: UInt16
    /// The host offering the service; the root name means "decidedly not available here".
    public var target: DNSName

    public init(priority: UInt16, weight: UInt16, port: UInt16, target: DNSName) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
    }
}

// MARK: - SOA

/// The RDATA of an SOA record (RFC 1035 §3.3.13): the start of a zone of authority.
public struct SOAData: Hashable, Sendable {
    /// The primary name server of the zone.
    public var primaryServer: DNSName
    /// The mailbox of the person responsible, as a name (`hostmaster.example.com`).
    public var responsible: DNSName
    public var serial: UInt32
    /// Seconds before secondaries refresh, retry a failed refresh, and stop answering.
    public var refresh: UInt32
    public var retry: UInt32
    public var expire: UInt32
    /// How long resolvers may cache a negative answer (RFC 2308 §4), in seconds.
    public var minimum: UInt32

    public init(primaryServer: DNSName, responsible: DNSName, serial: UInt32, refresh: UInt32 = 3600, retry: UInt32 = 600,
                expire: UInt32 = 86_400, minimum: UInt32) {
        self.primaryServer = primaryServer
        self.responsible = responsible
        self.serial = serial
        self.refresh = refresh
        self.retry = retry
        self.expire = expire
        self.minimum = minimum
    }
}

// MARK: - RDATA

/// Decoded RDATA for the types Disco uses; anything else is kept as raw bytes.
///
/// Each case belongs to one record type (and, but for `opt`, to the Internet class): the codec
/// reads them only there and refuses to write them anywhere else, so what it writes reads back
/// the same.
public enum DNSRecordData: Hashable, Sendable {
    /// A (4 bytes) or AAAA (16 bytes).
    case address(DNSIPAddress)
    case cname(DNSName)
    case ns(DNSName)
    case soa(SOAData)
    case srv(SRVData)
    /// TXT: one or more character-strings of at most 255 bytes each.
    case txt([[UInt8]])
    /// The options of an OPT pseudo-record (see ``EDNS``).
    case opt([EDNSOption])
    /// Any other type, or a known type in another class, as raw bytes.
    case other([UInt8])

    /// The record type this data belongs to; nil for raw bytes.
    var expectedType: DNSRecordType? {
        switch self {
        case .address(let address): address.isIPv6 ? .aaaa : .a
        case .cname: .cname
        case .ns: .ns
        case .soa: .soa
        case .srv: .srv
        case .txt: .txt
        case .opt: .opt
        case .other: nil
        }
    }

    /// Types the codec decodes in the Internet class (and OPT in any class).
    static let decodedTypes: Set<DNSRecordType> = [.a, .aaaa, .cname, .ns, .soa, .srv, .txt]
}
