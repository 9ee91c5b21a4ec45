// MARK: - Encoding

extension DNSMessage {
    /// The largest message DNS can carry (over TCP, behind a two-byte length).
    public static let maxLength = Int(UInt16.max)

    /// Encodes the whole message, compressing names unless `compression` is false. Throws
    /// ``DNSMessageError/Code/tooLarge`` when it exceeds 65535 bytes, and
    /// ``DNSMessageError/Code/badRecordData`` for a record whose data does not fit its type.
    public func encoded(compression: Bool = true) throws(DNSMessageError) -> [UInt8] {
        var writer = try start(compression: compression)
        for record in answers + authority + additional {
            try record.write(&writer)
        }
        guard writer.bytes.count <= Self.maxLength else {
            throw DNSMessageError(.tooLarge, at: Self.maxLength, "message of \(writer.bytes.count) bytes; at most \(Self.maxLength) fit")
        }
        return writer.bytes
    }

    /// Encodes the message in at most `limit` bytes, for a UDP answer (see
    /// ``udpResponseLimit(cappedAt:)``).
    ///
    /// Records are kept in order while they fit. An answer or authority record that does not fit
    /// sets TC (truncated: the client asks again over TCP) and ends both sections; additional
    /// records that do not fit are left out without TC (RFC 2181 §9). The OPT record is always
    /// kept. Throws ``DNSMessageError/Code/tooLarge`` when even the header, questions and OPT
    /// record do not fit.
    public func encoded(limit: Int, compression: Bool = true) throws(DNSMessageError) -> [UInt8] {
        let limit = min(limit, Self.maxLength)
        var writer = try start(compression: compression)
        let opt = additional.first { $0.type == .opt }
        var optWriter = DNSWriter(compression: false)
        if let opt { try opt.write(&optWriter) }
        let reserve = optWriter.bytes.count
        guard writer.bytes.count + reserve <= limit else {
            throw DNSMessageError(
                .tooLarge, at: 0,
                "the header, \(questions.count) question(s) and OPT record take \(writer.bytes.count + reserve) bytes; the limit is \(limit)")
        }
        var counts = [0, 0, 0]
        var truncated = false
        sections: for (section, records) in [answers, authority].enumerated() {
            for record in records {
                let mark = writer.mark()
                try record.write(&writer)
                guard writer.bytes.count + reserve <= limit else {
                    writer.rollback(to: mark)
                    truncated = true
                    break sections
                }
                counts[section] += 1
            }
        }
        var droppingAdditional = truncated
        var optWritten = false
        for record in additional {
            if record.type == .opt {
                try record.write(&writer)
                counts[2] += 1
                optWritten = true
                continue
            }
            guard !droppingAdditional else { continue }
            let mark = writer.mark()
            try record.write(&writer)
            guard writer.bytes.count + (optWritten ? 0 : reserve) <= limit else {
                writer.rollback(to: mark)
                droppingAdditional = true
                continue
            }
            counts[2] += 1
        }
        for (index, count) in counts.enumerated() { writer.patch16(at: 6 + 2 * index, UInt16(count)) }
        if truncated { writer.patch16(at: 2, header.flags | 0x0200) }
        return writer.bytes
    }

    /// The header (counts as in the message, patched by the caller when records are left out)
    /// and the questions.
    private func start(compression: Bool) throws(DNSMessageError) -> DNSWriter {
        for (count, label) in [(questions.count, "questions"), (answers.count, "answers"), (authority.count, "authority records"),
                               (additional.count, "additional records")] where count > Int(UInt16.max) {
            throw DNSMessageError(.tooLarge, at: 0, "\(count) \(label); at most 65535 fit in a message")
        }
        var writer = DNSWriter(compression: compression)
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
        return writer
    }
}
