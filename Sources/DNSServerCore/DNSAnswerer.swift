// MARK: - Answering a query

/// Answers DNS queries for a ``DNSZone``: query bytes in, response bytes out, nothing else.
///
/// - Only standard queries (opcode QUERY) with one question are answered; another opcode gets
///   NOTIMP, and a query whose header is readable but whose rest is not (no question, several,
///   records in the answer or authority section but the SOA of an IXFR query, a bad name, bytes
///   after the last record, more than one OPT) gets FORMERR with the header alone. Fewer than 12
///   bytes, or a message with QR set, get nothing.
/// - Names outside the zone, classes other than IN and zone transfers (AXFR, IXFR) are REFUSED,
///   whether or not recursion is desired; RA is never set.
/// - In the zone: the records (AA set); NODATA (NOERROR, no answers) for a name that exists with
///   no records of the type, empty non-terminals included; NXDOMAIN for a name that does not
///   exist. Both negative answers carry the SOA in the authority section with the TTL negative
///   caching may use, min(SOA TTL, MINIMUM).
/// - EDNS(0): a query with an OPT record gets one back (payload size ``DNSAnswerLimits/maxUDPPayloadSize``,
///   DO copied); version above 0 gets BADVERS.
/// - The question is echoed as sent (case included); names in the answer that end in it point to it.
/// - Over UDP the response fits ``DNSAnswerLimits``: records that do not fit are left out, with TC
///   when an answer or authority record is among them. Over TCP it is complete (up to 65535 bytes).
/// - A/AAAA answers with several records start at a record chosen by the query ID and wrap
///   around, so clients that take the first address spread over the members.
public struct DNSAnswerer: Sendable {
    /// The smallest output buffer ``respond(to:over:zone:into:)`` writes into.
    public static let minimumOutputSize = 512

    public let limits: DNSAnswerLimits

    public init(limits: DNSAnswerLimits = .standard) {
        self.limits = limits
    }

    /// Writes the response to `query` into `output` and says what it wrote. `output` should hold
    /// 65535 bytes for TCP (complete answers), and ``DNSAnswerLimits/maxUDPPayloadSize`` for UDP;
    /// a smaller one (at least 512 bytes) only makes answers cut sooner.
    public func respond(to query: UnsafeRawBufferPointer, over transport: DNSTransport, zone: DNSZone,
                        into output: UnsafeMutableRawBufferPointer) -> DNSReply {
        guard output.count >= Self.minimumOutputSize else { return .dropped }
        switch DNSQueryParser.read(query) {
        case .drop:
            return .dropped
        case .notImplemented(let id, let flags, let edns):
            return headerOnly(id: id, flags: flags, code: .notImplemented, outcome: .notImplemented, edns: edns, into: output)
        case .formatError(let id, let flags):
            return headerOnly(id: id, flags: flags, code: .formatError, outcome: .formatError, into: output)
        case .query(let parsed):
            let limit = min(output.count, limits.responseLimit(queryLength: query.count, edns: parsed.edns, transport: transport))
            var writer = WireWriter(UnsafeMutableRawBufferPointer(rebasing: output[0..<limit]))
            let (outcome, truncated) = answer(parsed, query: query, zone: zone, limit: limit, into: &writer)
            guard !writer.overflowed else { return .dropped }
            if outcome == .formatError { return headerOnly(id: parsed.id, flags: parsed.flags, code: .formatError, outcome: .formatError, into: output) }
            return DNSReply(outcome: outcome, length: writer.count, truncated: truncated)
        }
    }

    /// The response to `query` as bytes, or nil when nothing would be sent. For tests and tools;
    /// servers use ``respond(to:over:zone:into:)`` with a reused buffer.
    public func response(to query: [UInt8], over transport: DNSTransport, zone: DNSZone) -> [UInt8]? {
        var output = [UInt8](repeating: 0, count: transport == .tcp ? DNSMessage.maxLength : limits.maxUDPPayloadSize)
        let answer = query.withUnsafeBytes { query in
            output.withUnsafeMutableBytes { respond(to: query, over: transport, zone: zone, into: $0) }
        }
        return answer.length > 0 ? Array(output[0..<answer.length]) : nil
    }

    // MARK: Deciding

    private func answer(_ query: ParsedQuery, query bytes: UnsafeRawBufferPointer, zone: DNSZone, limit: Int,
                        into writer: inout WireWriter) -> (DNSReply.Outcome, Bool) {
        if let edns = query.edns, edns.version > 0 {
            start(&writer, query, bytes, code: .noError, authoritative: false, counts: (0, 0, 0))
            writeOPT(&writer, query, extendedCode: 1)  // BADVERS (16) = 1 << 4 | 0
            return (.badVersion, false)
        }
        guard query.type != DNSRecordType.opt.rawValue else { return (.formatError, false) }
        guard query.questionClass == DNSClass.internet, query.type != 251, query.type != 252 else {
            return (refuse(&writer, query, bytes), false)
        }
        let name = UnsafeRawBufferPointer(rebasing: bytes[12..<(12 + query.nameLength)])
        guard let entryIndex = zone.entryIndex(name: name, hash: query.nameHash) else {
            guard zone.isInZone(name, labelCount: query.labelCount) else { return (refuse(&writer, query, bytes), false) }
            return (.nameError, negative(&writer, query, bytes, zone: zone, code: .nameError, limit: limit))
        }
        let entry = zone.entries[entryIndex]
        guard let type = AnsweredType(query.type), case let index = entry.answer(type), index >= 0 else {
            return (.noData, negative(&writer, query, bytes, zone: zone, code: .noError, limit: limit))
        }
        return (.answered, positive(&writer, query, bytes, zone: zone, answer: zone.answers[index], limit: limit))
    }

    // MARK: Writing

    /// The header alone, plus an OPT record when the query's `edns` is known (RFC 6891 §7).
    private func headerOnly(id: UInt16, flags: UInt16, code: DNSResponseCode, outcome: DNSReply.Outcome, edns: QueryEDNS? = nil,
                            into output: UnsafeMutableRawBufferPointer) -> DNSReply {
        var writer = WireWriter(output)
        writer.u16(id)
        writer.u16(0x8000 | flags & 0x7910 | UInt16(code.rawValue))  // QR; opcode, RD and CD copied
        for _ in 0..<3 { writer.u16(0) }
        writer.u16(edns == nil ? 0 : 1)
        if let edns {
            writeOPT(&writer, ParsedQuery(id: id, flags: flags, nameLength: 0, labelCount: 0, nameHash: 0, type: 0, questionClass: 0,
                                          questionEnd: 12, edns: edns))
        }
        return DNSReply(outcome: outcome, length: writer.count, truncated: false)
    }

    /// Header and the question echoed; the additional count includes the OPT record to come.
    private func start(_ writer: inout WireWriter, _ query: ParsedQuery, _ bytes: UnsafeRawBufferPointer,
                       code: DNSResponseCode, authoritative: Bool, counts: (Int, Int, Int)) {
        writer.u16(query.id)
        writer.u16(0x8000 | query.flags & 0x7910 | (authoritative ? 0x0400 : 0) | UInt16(code.rawValue))
        writer.u16(1)
        writer.u16(UInt16(truncatingIfNeeded: counts.0))
        writer.u16(UInt16(truncatingIfNeeded: counts.1))
        writer.u16(UInt16(truncatingIfNeeded: counts.2 + (query.edns == nil ? 0 : 1)))
        writer.copy(UnsafeRawBufferPointer(rebasing: bytes[12..<query.questionEnd]))
    }

    private func writeOPT(_ writer: inout WireWriter, _ query: ParsedQuery, extendedCode: UInt8 = 0) {
        guard let edns = query.edns else { return }
        writer.u8(0)
        writer.u16(DNSRecordType.opt.rawValue)
        writer.u16(UInt16(limits.maxUDPPayloadSize))
        writer.u8(extendedCode)
        writer.u8(0)
        writer.u16(edns.dnssecOK ? 0x8000 : 0)
        writer.u16(0)
    }

    private func refuse(_ writer: inout WireWriter, _ query: ParsedQuery, _ bytes: UnsafeRawBufferPointer) -> DNSReply.Outcome {
        start(&writer, query, bytes, code: .refused, authoritative: false, counts: (0, 0, 0))
        writeOPT(&writer, query)
        return .refused
    }

    /// NXDOMAIN or NODATA with the SOA in the authority section; returns whether it was cut.
    private func negative(_ writer: inout WireWriter, _ query: ParsedQuery, _ bytes: UnsafeRawBufferPointer, zone: DNSZone,
                          code: DNSResponseCode, limit: Int) -> Bool {
        let soa = zone.negativeSOA
        let optLength = query.edns == nil ? 0 : ZoneCompiler.optLength
        let fits = query.questionEnd + soa.recordLength + optLength <= limit
        start(&writer, query, bytes, code: code, authoritative: true, counts: (0, fits ? 1 : 0, 0))
        if fits {
            // The apex ends the question name: point there.
            let pointer = 0xC000 | UInt16(12 + query.nameLength - zone.apexWire.count)
            writer.u16(pointer)
            writer.u16(DNSRecordType.soa.rawValue)
            writer.u16(DNSClass.internet)
            writer.u32(soa.ttl)
            writer.u16(UInt16(soa.rdataLength))
            writer.copy(soa.primaryPrefix)
            writer.u16(pointer)
            writer.copy(soa.mailboxPrefix)
            writer.u16(pointer)
            writer.copy(soa.timers)
        }
        writeOPT(&writer, query)
        if !fits { writer.patch16(at: 2, 0x0200 | Self.flags(of: writer)) }
        return !fits
    }

    /// A compiled answer, cut to `limit` if need be; returns whether TC was set.
    private func positive(_ writer: inout WireWriter, _ query: ParsedQuery, _ bytes: UnsafeRawBufferPointer, zone: DNSZone,
                          answer: CompiledAnswer, limit: Int) -> Bool {
        let optLength = query.edns == nil ? 0 : ZoneCompiler.optLength
        let available = limit - query.questionEnd - optLength
        var truncated = answer.alwaysTruncated
        zone.bodies.withUnsafeBytes { bodies in
            let body = UnsafeRawBufferPointer(rebasing: bodies[answer.bodyStart..<(answer.bodyStart + answer.bodyLength)])
            if answer.rotatingRecordLength > 0 {
                let size = answer.rotatingRecordLength
                let total = answer.answerCount
                let kept = min(total, max(0, available) / size)
                truncated = truncated || kept < total
                start(&writer, query, bytes, code: .noError, authoritative: true, counts: (kept, 0, 0))
                let first = Int(query.id) % total
                let run = min(kept, total - first)
                writer.copy(UnsafeRawBufferPointer(rebasing: body[(first * size)..<((first + run) * size)]))
                writer.copy(UnsafeRawBufferPointer(rebasing: body[0..<((kept - run) * size)]))
            } else if answer.bodyLength <= available {
                start(&writer, query, bytes, code: .noError, authoritative: true,
                      counts: (answer.answerCount, answer.authorityCount, answer.additionalCount))
                writer.copy(body)
            } else {
                var kept = 0
                var length = 0
                zone.recordEnds.withUnsafeBufferPointer { ends in
                    while kept < answer.recordCount, Int(ends[answer.recordsStart + kept]) <= available {
                        length = Int(ends[answer.recordsStart + kept])
                        kept += 1
                    }
                }
                let main = answer.answerCount + answer.authorityCount
                let counts: (Int, Int, Int)
                if kept < main {
                    truncated = true
                    counts = (min(kept, answer.answerCount), max(0, kept - answer.answerCount), 0)
                } else {
                    counts = (answer.answerCount, answer.authorityCount, kept - main)
                }
                start(&writer, query, bytes, code: .noError, authoritative: true, counts: counts)
                writer.copy(UnsafeRawBufferPointer(rebasing: body[0..<length]))
            }
        }
        writeOPT(&writer, query)
        if truncated { writer.patch16(at: 2, 0x0200 | Self.flags(of: writer)) }
        return truncated
    }

    private static func flags(of writer: WireWriter) -> UInt16 {
        guard writer.count >= 4 else { return 0 }
        return UInt16(writer.base[2]) << 8 | UInt16(writer.base[3])
    }
}
