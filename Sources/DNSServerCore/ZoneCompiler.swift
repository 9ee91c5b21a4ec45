// MARK: - Compiling a zone to wire form

/// Turns ``DNSZoneContents`` into the arrays of a ``DNSZone``: for every name, the wire bytes of
/// each answer the codec builds for it (A, AAAA, SRV with glue, NS with glue, SOA, ANY).
struct ZoneCompiler {
    /// Bytes of the OPT record a response adds (no options).
    static let optLength = 11

    let contents: DNSZoneContents
    private(set) var nameBytes: [UInt8] = []
    private(set) var entries: [NameEntry] = []
    private(set) var bodies: [UInt8] = []
    private(set) var recordEnds: [Int32] = []
    private(set) var answers: [CompiledAnswer] = []

    init(contents: DNSZoneContents) {
        self.contents = contents
    }

    mutating func compileAll() {
        for (name, records) in contents.names.sorted(by: { $0.key.description < $1.key.description }) {
            let wire = name.wireBytes.map(DNSWireCase.lower)
            var entry = NameEntry(nameStart: nameBytes.count, nameLength: wire.count, hash: WireNameHash.of(wire))
            nameBytes += wire
            for type in AnsweredType.allCases {
                let selected = type.recordType.map { wanted in records.filter { $0.type == wanted } } ?? records
                guard !selected.isEmpty else { continue }
                let glue = type == .srv || type == .ns ? contents.glue(for: selected) : []
                if let index = compile(name: name, type: type, answers: selected, additional: glue) {
                    entry.setAnswer(type, index)
                }
            }
            entries.append(entry)
        }
    }

    /// Encodes the answer with the codec after a question for `name`, and keeps what follows
    /// the question. Nil if the codec cannot encode it (it always can for records the zone builds).
    private mutating func compile(name: DNSName, type: AnsweredType, answers records: [DNSResourceRecord],
                                  additional: [DNSResourceRecord]) -> Int? {
        let questionType = type.recordType ?? DNSRecordType(rawValue: 255)
        let message = DNSMessage(
            header: DNSHeader(id: 0, flags: 0x8400), questions: [DNSQuestion(name: name, type: questionType)],
            answers: records, additional: additional)
        // Leave room for an OPT record: the complete form must fit one TCP message with it.
        guard let bytes = try? message.encoded(limit: DNSMessage.maxLength - Self.optLength) else { return nil }
        let questionEnd = DNSHeader.length + name.wireLength + 4
        guard bytes.count >= questionEnd else { return nil }
        func count(at offset: Int) -> Int { Int(bytes[offset]) << 8 | Int(bytes[offset + 1]) }
        let answerCount = count(at: 6)
        let authorityCount = count(at: 8)
        let additionalCount = count(at: 10)
        let body = Array(bytes[questionEnd...])
        guard let ends = Self.recordEnds(in: body, count: answerCount + authorityCount + additionalCount) else { return nil }
        var rotating = 0
        if type == .a || type == .aaaa, authorityCount == 0, additionalCount == 0, let first = ends.first {
            let sameSize = ends.enumerated().allSatisfy { index, end in end == (index + 1) * first }
            if sameSize { rotating = first }
        }
        let answer = CompiledAnswer(
            bodyStart: bodies.count, bodyLength: body.count, recordsStart: recordEnds.count, answerCount: answerCount,
            authorityCount: authorityCount, additionalCount: additionalCount, rotatingRecordLength: rotating,
            alwaysTruncated: bytes[2] & 0x02 != 0)
        bodies += body
        recordEnds += ends.map { Int32($0) }
        answers.append(answer)
        return answers.count - 1
    }

    /// The end offset of each of `count` records written back to back in `body`; nil when the
    /// bytes are not exactly that many records.
    static func recordEnds(in body: [UInt8], count: Int) -> [Int]? {
        var ends: [Int] = []
        var offset = 0
        for _ in 0..<count {
            // Owner name: labels, ended by the root or by a pointer.
            while true {
                guard offset < body.count else { return nil }
                let length = Int(body[offset])
                if length == 0 {
                    offset += 1
                    break
                }
                if length & 0xC0 == 0xC0 {
                    offset += 2
                    break
                }
                offset += 1 + length
            }
            // TYPE, CLASS, TTL, RDLENGTH, RDATA.
            guard offset + 10 <= body.count else { return nil }
            let dataLength = Int(body[offset + 8]) << 8 | Int(body[offset + 9])
            offset += 10 + dataLength
            guard offset <= body.count else { return nil }
            ends.append(offset)
        }
        return offset == body.count ? ends : nil
    }
}
