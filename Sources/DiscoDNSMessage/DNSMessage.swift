// MARK: - Header

/// The fixed 12-byte header (RFC 1035 §4.1.1).
public struct DNSHeader: Hashable, Sendable {
    public static let length = 12

    public var id: UInt16
    /// QR, OPCODE, AA, TC, RD, RA, Z, AD, CD and RCODE as on the wire.
    public var flags: UInt16

    public var isResponse: Bool { flags & 0x8000 != 0 }
    public var opcode: UInt8 { UInt8((flags >> 11) & 0xF) }
    public var isAuthoritative: Bool { flags & 0x0400 != 0 }
    /// TC: the answer did not fit; ask again over TCP.
    public var isTruncated: Bool { flags & 0x0200 != 0 }
    public var recursionDesired: Bool { flags & 0x0100 != 0 }
    public var recursionAvailable: Bool { flags & 0x0080 != 0 }
    public var responseCode: DNSResponseCode { DNSResponseCode(rawValue: UInt8(flags & 0xF)) }

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

    /// A standard recursive query for one name and type.
    public static func query(id: UInt16, name: DNSName, type: DNSRecordType) -> DNSMessage {
        DNSMessage(header: DNSHeader(id: id, flags: DNSHeader.queryFlags), questions: [DNSQuestion(name: name, type: type)])
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
        additional = try section(additionalCount, "additional")
        guard reader.remaining == 0 else {
            throw DNSMessageError(.trailingBytes, at: reader.offset, "\(reader.remaining) bytes follow the last record the header announced")
        }
    }

    // MARK: Encoding

    /// Encodes the message without name compression.
    public func encoded() throws(DNSMessageError) -> [UInt8] {
        for (count, label) in [(questions.count, "questions"), (answers.count, "answers"), (authority.count, "authority records"), (additional.count, "additional records")]
        where count > Int(UInt16.max) {
            throw DNSMessageError(.tooLarge, at: 0, "\(count) \(label); at most 65535 fit in a message")
        }
        var writer = DNSWriter()
        writer.u16(header.id)
        writer.u16(header.flags)
        writer.u16(UInt16(questions.count))
        writer.u16(UInt16(answers.count))
        writer.u16(UInt16(authority.count))
        writer.u16(UInt16(additional.count))
        for question in questions {
            writer.name(question.name)
            writer.u16(question.type.rawValue)
            writer.u16(question.questionClass)
        }
        for record in answers + authority + additional {
            try record.write(&writer)
        }
        return writer.bytes
    }
}
