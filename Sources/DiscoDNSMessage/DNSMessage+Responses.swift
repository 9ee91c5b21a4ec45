// MARK: - Building responses

extension DNSMessage {
    /// The start of a response to `query`: its ID, opcode, RD and CD bits and question; QR set;
    /// AA when `authoritative`; RA when `recursionAvailable`. A query with EDNS gets EDNS back,
    /// advertising `udpPayloadSize`; one with an EDNS version above 0 gets BADVERS
    /// (RFC 6891 §6.1.3) and nothing else.
    public static func response(
        to query: DNSMessage, code: DNSResponseCode = .noError, authoritative: Bool = true, recursionAvailable: Bool = false,
        udpPayloadSize: UInt16 = EDNS.defaultPayloadSize
    ) -> DNSMessage {
        var header = DNSHeader(id: query.header.id, flags: 0)
        header.isResponse = true
        header.opcode = query.header.opcode
        header.recursionDesired = query.header.recursionDesired
        header.checkingDisabled = query.header.checkingDisabled
        header.isAuthoritative = authoritative
        header.recursionAvailable = recursionAvailable
        header.responseCode = code
        var response = DNSMessage(header: header, questions: query.questions)
        if let asked = query.edns {
            var edns = EDNS(udpPayloadSize: max(512, udpPayloadSize))
            if asked.version > 0 {
                edns.extendedResponseCode = 1  // BADVERS (16) = 1 << 4 | 0
                response.header.responseCode = .noError
                response.header.isAuthoritative = false
            }
            response.edns = edns
        }
        return response
    }

    /// An authoritative answer to `query`: `answers`, with glue such as SRV targets' addresses
    /// in `additional`.
    public static func answer(to query: DNSMessage, answers: [DNSResourceRecord], additional: [DNSResourceRecord] = []) -> DNSMessage {
        var response = response(to: query)
        response.answers = answers
        response.additional = additional + response.additional
        return response
    }

    /// NXDOMAIN: the name does not exist in the zone. The zone's SOA record goes in the authority
    /// section with the TTL negative caching may use: the smaller of its own TTL and its MINIMUM
    /// (RFC 2308 §3).
    public static func nameError(to query: DNSMessage, soa: DNSResourceRecord) -> DNSMessage {
        var response = response(to: query, code: .nameError)
        response.authority = [negativeCaching(soa)]
        return response
    }

    /// NODATA: the name exists but has no records of the type asked for. NOERROR with no answers
    /// and the zone's SOA in the authority section, as for ``nameError(to:soa:)``.
    public static func noData(to query: DNSMessage, soa: DNSResourceRecord) -> DNSMessage {
        var response = response(to: query)
        response.authority = [negativeCaching(soa)]
        return response
    }

    private static func negativeCaching(_ soa: DNSResourceRecord) -> DNSResourceRecord {
        guard case .soa(let data) = soa.data else { return soa }
        var record = soa
        record.ttl = min(soa.ttl, data.minimum)
        return record
    }
}
