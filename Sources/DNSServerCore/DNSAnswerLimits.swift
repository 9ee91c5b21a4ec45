// MARK: - Transport and size limits

/// How a query arrived: UDP answers are cut to the client's size, TCP answers are complete.
public enum DNSTransport: Sendable, Hashable, CaseIterable {
    case udp, tcp
}

/// Size limits of UDP answers.
///
/// A UDP response is never larger than any of: 512 bytes for a query without EDNS, else the
/// client's advertised payload size (at least 512); ``maxUDPPayloadSize`` (1232 by default, the
/// size DNS Flag Day 2020 settled on to avoid IP fragmentation, and the size our OPT record
/// advertises); and the larger of 512 bytes and ``amplificationFactor`` times the query's size.
/// So no UDP answer is more than 10 times its query unless it fits the classic 512 bytes, and
/// an answer that does not fit is cut (TC set) for the client to ask again over TCP.
public struct DNSAnswerLimits: Sendable, Hashable {
    public static let defaultUDPPayloadSize = 1232
    public static let defaultAmplificationFactor = 10

    /// The largest UDP answer, 512...4096.
    public let maxUDPPayloadSize: Int
    /// The bound on a UDP answer as a multiple of its query (above 512 bytes), at least 1.
    public let amplificationFactor: Int

    public init(maxUDPPayloadSize: Int = defaultUDPPayloadSize, amplificationFactor: Int = defaultAmplificationFactor) throws(DNSSettingsError) {
        guard (512...4096).contains(maxUDPPayloadSize) else {
            throw DNSSettingsError(flag: "UDP payload size", "\(maxUDPPayloadSize) bytes; expected 512 to 4096 (1232 avoids IP fragmentation)")
        }
        guard amplificationFactor >= 1 else {
            throw DNSSettingsError(flag: "amplification factor", "\(amplificationFactor); expected 1 or more")
        }
        self.maxUDPPayloadSize = maxUDPPayloadSize
        self.amplificationFactor = amplificationFactor
    }

    /// The defaults: 1232 bytes, factor 10.
    public static let standard = DNSAnswerLimits(uncheckedUDP: defaultUDPPayloadSize, amplification: defaultAmplificationFactor)

    private init(uncheckedUDP: Int, amplification: Int) {
        maxUDPPayloadSize = uncheckedUDP
        amplificationFactor = amplification
    }

    /// The most bytes a response to a query of `queryLength` bytes may take.
    func responseLimit(queryLength: Int, edns: QueryEDNS?, transport: DNSTransport) -> Int {
        switch transport {
        case .tcp:
            return DNSMessage.maxLength
        case .udp:
            let client = edns.map { min(max(512, $0.udpPayloadSize), maxUDPPayloadSize) } ?? 512
            return min(client, max(512, amplificationFactor * queryLength))
        }
    }
}

// MARK: - What answering did

/// The result of answering one query: how many bytes of response were written (0: none, the
/// query is dropped), what kind of answer it was, and whether it was cut (TC).
public struct DNSReply: Sendable, Hashable {
    public enum Outcome: Int, Sendable, Hashable, CaseIterable {
        /// Records in the answer section.
        case answered
        /// The name exists without records of the type (NOERROR, SOA in authority).
        case noData
        /// NXDOMAIN.
        case nameError
        /// A name outside the zone, another class, or a zone transfer.
        case refused
        /// FORMERR: the header was readable, the rest was not a valid query.
        case formatError
        /// NOTIMP: an opcode other than QUERY.
        case notImplemented
        /// BADVERS: an EDNS version above 0.
        case badVersion
        /// Nothing sent: fewer than 12 bytes, or a response rather than a query.
        case dropped
    }

    public let outcome: Outcome
    public let length: Int
    public let truncated: Bool

    static let dropped = DNSReply(outcome: .dropped, length: 0, truncated: false)
}
