// MARK: - Header

/// The fixed 12-byte header (RFC 1035 §4.1.1).
public struct DNSHeader: Hashable, Sendable {
    public static let length = 12

    public var id: UInt16
    /// QR, OPCODE, AA, TC, RD, RA, Z, AD, CD and RCODE as on the wire.
    public var flags: UInt16

    /// QR: a response rather than a query.
    public var isResponse: Bool {
        get { flags & 0x8000 != 0 }
        set { set(0x8000, newValue) }
    }
    public var opcode: UInt8 {
        get { UInt8((flags >> 11) & 0xF) }
        set { flags = flags & ~0x7800 | UInt16(newValue & 0xF) << 11 }
    }
    /// AA: the answer comes from a server authoritative for the name.
    public var isAuthoritative: Bool {
        get { flags & 0x0400 != 0 }
        set { set(0x0400, newValue) }
    }
    /// TC: the answer did not fit; ask again over TCP.
    public var isTruncated: Bool {
        get { flags & 0x0200 != 0 }
        set { set(0x0200, newValue) }
    }
    public var recursionDesired: Bool {
        get { flags & 0x0100 != 0 }
        set { set(0x0100, newValue) }
    }
    public var recursionAvailable: Bool {
        get { flags & 0x0080 != 0 }
        set { set(0x0080, newValue) }
    }
    /// CD: the client does its own DNSSEC checking (copied into responses, RFC 6840 §5.9).
    public var checkingDisabled: Bool {
        get { flags & 0x0010 != 0 }
        set { set(0x0010, newValue) }
    }
    /// The 4-bit RCODE of the header (EDNS carries the upper bits, ``EDNS/extendedResponseCode``).
    public var responseCode: DNSResponseCode {
        get { DNSResponseCode(rawValue: UInt8(flags & 0xF)) }
        set { flags = flags & ~0x000F | UInt16(newValue.rawValue & 0xF) }
    }

    private mutating func set(_ bit: UInt16, _ on: Bool) {
        flags = on ? flags | bit : flags & ~bit
    }

    public init(id: UInt16, flags: UInt16) {
        self.id = id
        self.flags = flags
    }

    /// Flags for a standard query with recursion desired.
    public static let queryFlags: UInt16 = 0x0100
}

/// RCODE (RFC 1035 §4.1.1); only the 4 header bits (no EDNS extension).
public struct DNSResponseCode: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let noError = DNSResponseCode(rawValue: 0)
    public static let formatError = DNSResponseCode(rawValue: 1)
    public static let serverFailure = DNSResponseCode(rawValue: 2)
    public static let nameError = DNSResponseCode(rawValue: 3)
    public static let notImplemented = DNSResponseCode(rawValue: 4)
    public static let refused = DNSResponseCode(rawValue: 5)

    public var description: String {
        switch rawValue {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        default: "RCODE\(rawValue)"
        }
    }
}

// MARK: - Question

/// One entry of the question section.
public struct DNSQuestion: Hashable, Sendable, CustomStringConvertible {
    public var name: DNSName
    public var type: DNSRecordType
    public var questionClass: UInt16

    public init(name: DNSName, type: DNSRecordType, questionClass: UInt16 = DNSClass.internet) {
        self.name = name
        self.type = type
        self.questionClass = questionClass
    }

    public var description: String { "\(type) \(name)" }
}

// MARK: - Message

/// A whole DNS message: header, question and the three record sections.
public struct DNSMessage: Hashable, Sendable {
    public var header: DNSHeader
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
    public var authority: [DNSResourceRecord]
    public var additional: [DNSResourceRecord]

    public init(
        header: DNSHeader, questions: [DNSQuestion], answers: [DNSResourceRecord] = [],
        authority: [DNSResourceRecord] = [], additional: [DNSResourceRecord] = []
    ) {
        self.header = header
        self.questions = questions
        self.answers = answers
        self.authority = authority
        self.additional = additional
    }

    /// A standard recursive query for one name and type, with EDNS when given.
    public static func query(id: UInt16, name: DNSName, type: DNSRecordType, edns: EDNS? = nil) -> DNSMessage {
        var query = DNSMessage(header: DNSHeader(id: id, flags: DNSHeader.queryFlags), questions: [DNSQuestion(name: name, type: type)])
        query.edns = edns
        return query
    }

    // MARK: Parsing

    /// Reads only the header; enough to see a truncated (TC) UDP answer, whose body may be cut
    /// anywhere.
    public static func parseHeader(_ bytes: [UInt8]) throws(DNSMessageError) -> DNSHeader {
        var reader = DNSReader(bytes)
        let id = try reader.u16("header ID")
        let flags = try reader.u16("header flags")
        return DNSHeader(id: id, flags: flags)
    }

    /// Parses a complete message strictly: every count in the header must be matched by
    /// records, every record must fit its RDLENGTH, and no bytes may follow the last record.
    public init(parsing bytes: [UInt8]) throws(DNSMessageError) {
        var reader = DNSReader(bytes)
        let id = try reader.u16("header ID")
        let flags = try reader.u16("header flags")
        let questionCount = Int(try reader.u16("QDCOUNT"))
        let answerCount = Int(try reader.u16("ANCOUNT"))
        let authorityCount = Int(try reader.u16("NSCOUNT"))
        let additionalCount = Int(try reader.u16("ARCOUNT"))
        header = DNSHeader(id: id, flags: flags)

        // Each question takes at least 5 bytes and each record at least 11: reject impossible
        // counts before allocating anything for them.
        let minimum = questionCount * 5 + (answerCount + authorityCount + additionalCount) * 11
        guard minimum <= reader.remaining else {
            throw DNSMessageError(
                .truncated, at: reader.offset,
                "header announces \(questionCount) questions and \(answerCount)/\(authorityCount)/\(additionalCount) records, which need at least \(minimum) bytes, but only \(reader.remaining) follow")
        }
        questions = []
        for index in 0..<questionCount {
            let name = try reader.name("question \(index + 1) name")
            let type = DNSRecordType(rawValue: try reader.u16("question \(index + 1) QTYPE"))
            let questionClass = try reader.u16("question \(index + 1) QCLASS")
            questions.append(DNSQuestion(name: name, type: type, questionClass: questionClass))
        }
        func section(_ count: Int, _ label: String) throws(DNSMessageError) -> [DNSResourceRecord] {
            var records: [DNSResourceRecord] = []
            for index in 0..<count {
                records.append(try DNSResourceRecord.read(&reader, section: label, index: index))
            }
            return records
        }
        answers = try section(answerCount, "answer")
        authority = try section(authorityCount, "authority")
        let additionalStart = reader.offset
        additional = try section(additionalCount, "additional")
        guard reader.remaining == 0 else {
            throw DNSMessageError(.trailingBytes, at: reader.offset, "\(reader.remaining) bytes follow the last record the header announced")
        }
        try Self.checkOPT(answers: answers, authority: authority, additional: additional, at: additionalStart)
    }

    /// RFC 6891 §6.1.1: at most one OPT record, in the additional section, owned by the root.
    private static func checkOPT(answers: [DNSResourceRecord], authority: [DNSResourceRecord], additional: [DNSResourceRecord],
                                 at offset: Int) throws(DNSMessageError) {
        for (records, section) in [(answers, "answer"), (authority, "authority")] where records.contains(where: { $0.type == .opt }) {
            throw DNSMessageError(.badRecordData, at: offset, "an OPT pseudo-record in the \(section) section; it belongs in the additional section only")
        }
        let options = additional.filter { $0.type == .opt }
        guard options.count <= 1 else {
            throw DNSMessageError(.badRecordData, at: offset, "\(options.count) OPT pseudo-records; at most one is allowed (RFC 6891)")
        }
        if let option = options.first, !option.name.isRoot {
            throw DNSMessageError(.badRecordData, at: offset, "the OPT pseudo-record is owned by \(option.name); it must be owned by the root name")
        }
    }
}
