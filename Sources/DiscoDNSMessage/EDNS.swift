// MARK: - EDNS

/// EDNS(0) (RFC 6891), carried by the OPT pseudo-record in the additional section: the largest
/// UDP answer the sender takes, the upper bits of the response code, the version, the DO flag
/// and options.
public struct EDNS: Hashable, Sendable {
    /// Payload size Disco advertises and answers with by default (the DNS flag day 2020 value:
    /// no IP fragmentation on common paths).
    public static let defaultPayloadSize: UInt16 = 1232

    /// The largest UDP payload the sender can take (the OPT record's CLASS); values below 512
    /// count as 512.
    public var udpPayloadSize: UInt16
    /// The upper 8 bits of the 12-bit response code (BADVERS, 16, is 1 here).
    public var extendedResponseCode: UInt8
    /// The EDNS version; 0 is the only one defined.
    public var version: UInt8
    /// DO: the sender takes DNSSEC records.
    public var dnssecOK: Bool
    /// The other 15 flag bits (Z), kept as received; send 0.
    public var reservedFlags: UInt16
    public var options: [EDNSOption]

    public init(udpPayloadSize: UInt16 = EDNS.defaultPayloadSize, extendedResponseCode: UInt8 = 0, version: UInt8 = 0,
                dnssecOK: Bool = false, reservedFlags: UInt16 = 0, options: [EDNSOption] = []) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedResponseCode = extendedResponseCode
        self.version = version
        self.dnssecOK = dnssecOK
        self.reservedFlags = reservedFlags & 0x7FFF
        self.options = options
    }

    /// Reads the OPT record's fields; nil for any other record.
    init?(_ record: DNSResourceRecord) {
        guard record.type == .opt, case .opt(let options) = record.data else { return nil }
        self.init(udpPayloadSize: record.recordClass, extendedResponseCode: UInt8(record.ttl >> 24),
                  version: UInt8((record.ttl >> 16) & 0xFF), dnssecOK: record.ttl & 0x8000 != 0,
                  reservedFlags: UInt16(record.ttl & 0x7FFF), options: options)
    }

    /// The OPT pseudo-record (owner: the root name).
    public var record: DNSResourceRecord {
        let ttl = UInt32(extendedResponseCode) << 24 | UInt32(version) << 16 | (dnssecOK ? 0x8000 : 0) | UInt32(reservedFlags & 0x7FFF)
        return DNSResourceRecord(name: .root, type: .opt, recordClass: udpPayloadSize, ttl: ttl, data: .opt(options))
    }
}

/// One EDNS option: a code (RFC 6891 §6.1.2; cookies are 10, padding 12) and its bytes.
public struct EDNSOption: Hashable, Sendable {
    public var code: UInt16
    public var data: [UInt8]

    public init(code: UInt16, data: [UInt8]) {
        self.code = code
        self.data = data
    }
}

// MARK: - EDNS on a message

extension DNSMessage {
    /// The message's EDNS, from its OPT record; setting it replaces (or with nil removes) that
    /// record.
    public var edns: EDNS? {
        get { additional.lazy.compactMap(EDNS.init).first }
        set {
            additional.removeAll { $0.type == .opt }
            if let newValue { additional.append(newValue.record) }
        }
    }

    /// The largest UDP answer the sender of this query takes: 512 bytes without EDNS, else its
    /// advertised payload size (at least 512), at most `limit`. Answer over UDP with
    /// ``encoded(limit:compression:)`` and this size.
    public func udpResponseLimit(cappedAt limit: Int = Int(EDNS.defaultPayloadSize)) -> Int {
        guard let edns else { return 512 }
        return max(512, min(Int(edns.udpPayloadSize), limit))
    }
}
