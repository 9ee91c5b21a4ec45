// MARK: - Records

/// One resource record from an answer, authority or additional section.
public struct DNSResourceRecord: Hashable, Sendable {
    public var name: DNSName
    public var type: DNSRecordType
    /// The class; for OPT, the sender's UDP payload size.
    public var recordClass: UInt16
    /// Seconds; values with the top bit set are read as 0 (RFC 2181 §8). For OPT, the extended
    /// response code, version and flags, kept as they are.
    public var ttl: UInt32
    public var data: DNSRecordData

    public init(name: DNSName, type: DNSRecordType, recordClass: UInt16 = DNSClass.internet, ttl: UInt32, data: DNSRecordData) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
        self.ttl = ttl
        self.data = data
    }

    /// Whether the codec decodes RDATA of this type and class (rather than keeping raw bytes).
    static func decodesData(of type: DNSRecordType, class recordClass: UInt16) -> Bool {
        type == .opt || (recordClass == DNSClass.internet && DNSRecordData.decodedTypes.contains(type))
    }

    var hasDecodedData: Bool { Self.decodesData(of: type, class: recordClass) }

    // MARK: Reading

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
        if decodesData(of: type, class: recordClass) {
            data = try readData(&reader, type: type, length: length, end: dataStart + length, what: "\(what) (\(type) \(name))")
        } else {
            data = .other(try reader.take(length, "RDATA of \(what)"))
        }
        guard reader.offset == dataStart + length else {
            throw DNSMessageError(
                .badRecordData, at: dataStart,
                "\(type) record \(name) in \(section): RDLENGTH says \(length) bytes but the data used \(reader.offset - dataStart)")
        }
        let ttl = type == .opt || rawTTL & 0x8000_0000 == 0 ? rawTTL : 0
        return DNSResourceRecord(name: name, type: type, recordClass: recordClass, ttl: ttl, data: data)
    }

    private static func readData(_ reader: inout DNSReader, type: DNSRecordType, length: Int, end: Int,
                                 what: String) throws(DNSMessageError) -> DNSRecordData {
        let start = reader.offset
        switch type {
        case .a, .aaaa:
            let expected = type == .a ? 4 : 16
            guard length == expected else {
                throw DNSMessageError(.badRecordData, at: start, "\(what) has \(length) bytes of address; expected \(expected)")
            }
            guard let address = DNSIPAddress(bytes: try reader.take(length, "address of \(what)")) else {
                throw DNSMessageError(.badRecordData, at: start, "\(what): unreadable address")
            }
            return .address(address)
        case .cname:
            return .cname(try reader.name("CNAME target of \(what)"))
        case .ns:
            return .ns(try reader.name("NS host of \(what)"))
        case .soa:
            let primary = try reader.name("SOA MNAME of \(what)")
            let responsible = try reader.name("SOA RNAME of \(what)")
            return .soa(SOAData(primaryServer: primary, responsible: responsible, serial: try reader.u32("SOA SERIAL of \(what)"),
                                refresh: try reader.u32("SOA REFRESH of \(what)"), retry: try reader.u32("SOA RETRY of \(what)"),
                                expire: try reader.u32("SOA EXPIRE of \(what)"), minimum: try reader.u32("SOA MINIMUM of \(what)")))
        case .srv:
            guard length >= 7 else {
                throw DNSMessageError(.badRecordData, at: start, "\(what) has \(length) bytes of RDATA; expected at least 7 (priority, weight, port, target)")
            }
            let priority = try reader.u16("SRV priority of \(what)")
            let weight = try reader.u16("SRV weight of \(what)")
            let port = try reader.u16("SRV port of \(what)")
            return .srv(SRVData(priority: priority, weight: weight, port: port, target: try reader.name("SRV target of \(what)")))
        case .txt:
            guard length > 0 else {
                throw DNSMessageError(.badRecordData, at: start, "\(what) has no character-string; expected at least one (an empty one is a single 0 byte)")
            }
            var strings: [[UInt8]] = []
            while reader.offset < end {
                let count = Int(try reader.u8("TXT string length of \(what)"))
                guard reader.offset + count <= end else {
                    throw DNSMessageError(.badRecordData, at: reader.offset - 1, "\(what): a character-string of \(count) bytes runs past its RDLENGTH")
                }
                strings.append(try reader.take(count, "TXT string of \(what)"))
            }
            return .txt(strings)
        default:  // .opt
            var options: [EDNSOption] = []
            while reader.offset < end {
                let code = try reader.u16("EDNS option code of \(what)")
                let count = Int(try reader.u16("EDNS option length of \(what)"))
                guard reader.offset + count <= end else {
                    throw DNSMessageError(.badRecordData, at: reader.offset - 4, "\(what): option \(code) of \(count) bytes runs past its RDLENGTH")
                }
                options.append(EDNSOption(code: code, data: try reader.take(count, "EDNS option \(code) of \(what)")))
            }
            return .opt(options)
        }
    }

    // MARK: Writing

    /// Writes the record; names are compressed as the writer allows, except SRV targets
    /// (RFC 2782). Data that does not belong to the record's type is refused.
    func write(_ writer: inout DNSWriter) throws(DNSMessageError) {
        try checkDataMatchesType(at: writer.bytes.count)
        writer.name(name)
        writer.u16(type.rawValue)
        writer.u16(recordClass)
        writer.u32(ttl)
        let lengthAt = writer.bytes.count
        writer.u16(0)
        let start = writer.bytes.count
        switch data {
        case .address(let address): writer.append(address.bytes)
        case .cname(let target), .ns(let target): writer.name(target)
        case .soa(let soa):
            writer.name(soa.primaryServer)
            writer.name(soa.responsible)
            for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] { writer.u32(value) }
        case .srv(let srv):
            writer.u16(srv.priority)
            writer.u16(srv.weight)
            writer.u16(srv.port)
            writer.name(srv.target, compressible: false)
        case .txt(let strings):
            for string in strings {
                writer.u8(UInt8(string.count))
                writer.append(string)
            }
        case .opt(let options):
            for option in options {
                writer.u16(option.code)
                writer.u16(UInt16(option.data.count))
                writer.append(option.data)
            }
        case .other(let raw): writer.append(raw)
        }
        let length = writer.bytes.count - start
        guard length <= Int(UInt16.max) else {
            throw DNSMessageError(.tooLarge, at: start, "RDATA of \(type) \(name) is \(length) bytes; at most 65535 fit")
        }
        writer.patch16(at: lengthAt, UInt16(length))
    }

    private func checkDataMatchesType(at offset: Int) throws(DNSMessageError) {
        func refuse(_ detail: String) -> DNSMessageError {
            DNSMessageError(.badRecordData, at: offset, "cannot write \(type) record \(name): \(detail)")
        }
        guard let expected = data.expectedType else {
            if hasDecodedData { throw refuse("raw bytes given for a type the codec decodes; give its decoded data") }
            return
        }
        guard type == expected else { throw refuse("its data is \(expected) data") }
        guard type == .opt || recordClass == DNSClass.internet else {
            throw refuse("class \(recordClass) given; decoded data is written in the Internet class (1) only")
        }
        switch data {
        case .txt(let strings):
            guard !strings.isEmpty else { throw refuse("no character-string; give at least one (it may be empty)") }
            if let long = strings.first(where: { $0.count > 255 }) {
                throw refuse("a character-string of \(long.count) bytes; at most 255 fit in one")
            }
        case .opt(let options):
            if let long = options.first(where: { $0.data.count > Int(UInt16.max) }) {
                throw refuse("option \(long.code) has \(long.data.count) bytes; at most 65535 fit")
            }
        default:
            break
        }
    }
}
