// MARK: - Types and classes

/// A resource record TYPE (RFC 1035 §3.2.2, RFC 3596, RFC 2782).
public struct DNSRecordType: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let a = DNSRecordType(rawValue: 1)
    public static let ns = DNSRecordType(rawValue: 2)
    public static let cname = DNSRecordType(rawValue: 5)
    public static let soa = DNSRecordType(rawValue: 6)
    public static let aaaa = DNSRecordType(rawValue: 28)
    public static let srv = DNSRecordType(rawValue: 33)
    public static let opt = DNSRecordType(rawValue: 41)

    public var description: String {
        switch self {
        case .a: "A"
        case .ns: "NS"
        case .cname: "CNAME"
        case .soa: "SOA"
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

// MARK: - Records

/// Decoded RDATA for the types Disco uses; anything else is kept as raw bytes.
public enum DNSRecordData: Hashable, Sendable {
    case address(DNSIPAddress)
    case cname(DNSName)
    case srv(SRVData)
    case other([UInt8])
}

/// One resource record from an answer, authority or additional section.
public struct DNSResourceRecord: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSRecordType
    public var recordClass: UInt16
    /// Seconds; values with the top bit set are read as 0 (RFC 2181 §8).
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: DNSName, type: DNSRecordType, recordClass: UInt16 = DNSClass.internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }

    // MARK: Wire

    static func read(_ reader: inout DNSReader, section: String, index: Int) throws(DNSMessageError) -> DNSResourceRecord {
        let what = "\(section) record \(index + 1)"
        let name = try reader.name("owner name of \(what)")
        let type = DNSRecordType(rawValue: try reader.u16("TYPE of \(what)"))
        let recordClass = try reader.u16("CLASS of \(what)")
        let rawTTL = try reader.u32("TTL of \(what)")
        let length = Int(try reader.u16("RDLENGTH of \(what)"))
        let dataStart = reader.offset
        guard length <= reader.remaining else {
            throw DNSMessageError(
                .truncated, at: dataStart,
                "RDATA of \(what) (\(type) \(name)) claims \(length) bytes but \(reader.remaining) are left")
        }
        let data: DNSRecordData
        let internet = recordClass == DNSClass.internet
        switch type {
        case .a where internet, .aaaa where internet:
            let expected = type == .a ? 4 : 16
            guard length == expected else {
                throw DNSMessageError(.badRecordData, at: dataStart, "\(type) record \(name) in \(section) has \(length) bytes of address; expected \(expected)")
            }
            guard let address = DNSIPAddress(bytes: try reader.take(length, "address of \(what)")) else {
                throw DNSMessageError(.badRecordData, at: dataStart, "\(type) record \(name): unreadable address")
            }
            data = .address(address)
        case .cname where internet:
            data = .cname(try reader.name("CNAME target of \(what)"))
        case .srv where internet:
            guard length >= 7 else {
                throw DNSMessageError(.badRecordData, at: dataStart, "SRV record \(name) in \(section) has \(length) bytes of RDATA; expected at least 7 (priority, weight, port, target)")
            }
            let priority = try reader.u16("SRV priority of \(what)")
            let weight = try reader.u16("SRV weight of \(what)")
            let port = try reader.u16("SRV port of \(what)")
            let target = try reader.name("SRV target of \(what)")
            data = .srv(SRVData(priority: priority, weight: weight, port: port, target: target))
        default:
            data = .other(try reader.take(length, "RDATA of \(what)"))
        }
        guard reader.offset == dataStart + length else {
            throw DNSMessageError(
                .badRecordData, at: dataStart,
                "\(type) record \(name) in \(section): RDLENGTH says \(length) bytes but the data used \(reader.offset - dataStart)")
        }
        return DNSResourceRecord(name: name, type: type, recordClass: recordClass, ttl: rawTTL & 0x8000_0000 == 0 ? rawTTL : 0, data: data)
    }

    func write(_ writer: inout DNSWriter) throws(DNSMessageError) {
        writer.name(name)
        writer.u16(type.rawValue)
        writer.u16(recordClass)
        writer.u32(ttl)
        let lengthAt = writer.bytes.count
        writer.u16(0)
        let start = writer.bytes.count
        switch data {
        case .address(let address): writer.append(address.bytes)
        case .cname(let target): writer.name(target)
        case .srv(let srv):
            writer.u16(srv.priority)
            writer.u16(srv.weight)
            writer.u16(srv.port)
            writer.name(srv.target)
        case .other(let raw): writer.append(raw)
        }
        let length = writer.bytes.count - start
        guard length <= Int(UInt16.max) else {
            throw DNSMessageError(.tooLarge, at: start, "RDATA of \(type) \(name) is \(length) bytes; at most 65535 fit")
        }
        writer.patch16(at: lengthAt, UInt16(length))
    }
}
