// MARK: - Reading a query

/// What the answerer needs from a query, read straight from its bytes without allocating.
struct ParsedQuery {
    var id: UInt16
    var flags: UInt16
    /// The question name's wire length (from byte 12), label count and lower-case hash.
    var nameLength: Int
    var labelCount: Int
    var nameHash: UInt32
    var type: UInt16
    var questionClass: UInt16
    /// Where the question ends: header and question are echoed up to here.
    var questionEnd: Int
    var edns: QueryEDNS?

    var opcode: UInt16 { (flags >> 11) & 0xF }
}

/// The OPT record of a query (RFC 6891).
struct QueryEDNS {
    /// The client's UDP payload size, as sent (values below 512 count as 512).
    var udpPayloadSize: Int
    var version: UInt8
    /// DO: copied into the response (RFC 3225 §3).
    var dnssecOK: Bool
}

/// How reading a query ended.
enum QueryReading {
    /// Fewer than 12 bytes, or a response (QR set): nothing is sent back.
    case drop
    /// An opcode other than QUERY (0); `edns` is the query's OPT record when the message is
    /// otherwise readable (the response carries one back, RFC 6891 §7).
    case notImplemented(id: UInt16, flags: UInt16, edns: QueryEDNS?)
    /// The header is readable, the rest is not a valid query.
    case formatError(id: UInt16, flags: UInt16)
    case query(ParsedQuery)
}

enum DNSQueryParser {
    /// QTYPE IXFR (RFC 1995).
    static let ixfrType: UInt16 = 251

    @inline(__always)
    static func u16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    /// Reads `bytes` as a standard query: one question, no answer or authority records (but the
    /// SOA an IXFR query carries, RFC 1995 §3), and in the additional section at most one OPT
    /// record (anything else in either section goes through the codec's strict parser, which
    /// enforces RFC 6891).
    static func read(_ bytes: UnsafeRawBufferPointer) -> QueryReading {
        let count = bytes.count
        guard count >= 12 else { return .drop }
        let id = u16(bytes, 0)
        let flags = u16(bytes, 2)
        guard flags & 0x8000 == 0 else { return .drop }
        guard (flags >> 11) & 0xF == 0 else {
            let edns = (try? DNSMessage(parsing: Array(bytes)))?.edns.map { edns in
                QueryEDNS(udpPayloadSize: Int(edns.udpPayloadSize), version: edns.version, dnssecOK: edns.dnssecOK)
            }
            return .notImplemented(id: id, flags: flags, edns: edns)
        }
        let formatError = QueryReading.formatError(id: id, flags: flags)
        guard u16(bytes, 4) == 1, u16(bytes, 6) == 0 else { return formatError }
        let authorityCount = u16(bytes, 8)
        let additionalCount = u16(bytes, 10)

        // The question name. It cannot be compressed: a pointer would have to point before it,
        // into the header.
        var offset = 12
        var hash = WireNameHash.offsetBasis
        var labels = 0
        while true {
            guard offset < count else { return formatError }
            let length = Int(bytes[offset])
            guard length & 0xC0 == 0 else { return formatError }
            // The name's wire length so far, with its final zero byte, must stay within 255.
            guard offset + 1 + length <= count, offset + 1 + length - 12 + (length == 0 ? 0 : 1) <= DNSName.maxWireLength else {
                return formatError
            }
            hash = WireNameHash.add(hash, UInt8(length))
            if length == 0 {
                offset += 1
                break
            }
            for index in (offset + 1)...(offset + length) {
                hash = WireNameHash.add(hash, DNSWireCase.lower(bytes[index]))
            }
            offset += 1 + length
            labels += 1
        }
        guard offset + 4 <= count else { return formatError }
        var query = ParsedQuery(
            id: id, flags: flags, nameLength: offset - 12, labelCount: labels, nameHash: hash, type: u16(bytes, offset),
            questionClass: u16(bytes, offset + 2), questionEnd: offset + 4, edns: nil)
        offset += 4
        // Only an IXFR query has authority records: the client's SOA (it is then refused).
        guard authorityCount == 0 || query.type == ixfrType else { return formatError }

        switch additionalCount {
        case 0 where authorityCount == 0:
            guard offset == count else { return formatError }
        case 1 where authorityCount == 0 && offset + 11 <= count && bytes[offset] == 0 && u16(bytes, offset + 1) == DNSRecordType.opt.rawValue:
            // The usual OPT record: root owner, then CLASS = payload size, TTL = extended RCODE,
            // version and flags, RDLENGTH and options that must fill it exactly.
            let dataLength = Int(u16(bytes, offset + 9))
            let end = offset + 11 + dataLength
            guard end == count else { return formatError }
            var option = offset + 11
            while option < end {
                guard option + 4 <= end else { return formatError }
                option += 4 + Int(u16(bytes, option + 2))
            }
            guard option == end else { return formatError }
            query.edns = QueryEDNS(udpPayloadSize: Int(u16(bytes, offset + 3)), version: bytes[offset + 6],
                                   dnssecOK: bytes[offset + 7] & 0x80 != 0)
        default:
            // Authority records, other additional records (TSIG, several OPTs, an OPT owned by
            // another name): the codec's parser decides, and its EDNS is the query's.
            guard let message = try? DNSMessage(parsing: Array(bytes)) else { return formatError }
            query.edns = message.edns.map { edns in
                QueryEDNS(udpPayloadSize: Int(edns.udpPayloadSize), version: edns.version, dnssecOK: edns.dnssecOK)
            }
        }
        return .query(query)
    }
}
