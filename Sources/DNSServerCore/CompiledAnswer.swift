// MARK: - Answers in wire form

/// One answer (a name and a question type) compiled to the bytes that follow the question.
///
/// Every name in `body` that repeats the question name, or ends in it or in the apex, is a
/// compression pointer into the question, which starts at byte 12 and has the same length in
/// every query for this name; so the body is valid after any question for the name, in any case.
/// The answer's records are in the body back to back; `recordEnds` marks where each ends, so a
/// UDP answer can be cut after any record that fits.
struct CompiledAnswer: Sendable {
    /// Where the body is in ``DNSZone/bodies``.
    var bodyStart: Int
    var bodyLength: Int
    /// Where the records' end offsets (relative to the body) are in ``DNSZone/recordEnds``.
    var recordsStart: Int
    var answerCount: Int
    var authorityCount: Int
    var additionalCount: Int
    /// Non-zero for an RRset of same-sized records that owns nothing else (A or AAAA): the
    /// answer may start at any record and wrap around, which spreads clients over the members.
    var rotatingRecordLength: Int
    /// Even the complete (TCP) form was cut to fit 65535 bytes: TC is always set.
    var alwaysTruncated: Bool

    var recordCount: Int { answerCount + authorityCount + additionalCount }
}

/// The record types a compiled name has answers for; ``DNSZone`` keeps one answer index per type.
enum AnsweredType: Int, CaseIterable {
    case a, aaaa, srv, ns, soa, any

    init?(_ type: UInt16) {
        switch type {
        case DNSRecordType.a.rawValue: self = .a
        case DNSRecordType.aaaa.rawValue: self = .aaaa
        case DNSRecordType.srv.rawValue: self = .srv
        case DNSRecordType.ns.rawValue: self = .ns
        case DNSRecordType.soa.rawValue: self = .soa
        case 255: self = .any
        default: return nil
        }
    }

    var recordType: DNSRecordType? {
        switch self {
        case .a: .a
        case .aaaa: .aaaa
        case .srv: .srv
        case .ns: .ns
        case .soa: .soa
        case .any: nil
        }
    }
}

/// A name in the zone's lookup table: its lower-case wire form in ``DNSZone/nameBytes`` and the
/// index of its answer per ``AnsweredType`` (-1: none, NODATA).
struct NameEntry: Sendable {
    var nameStart: Int
    var nameLength: Int
    var hash: UInt32
    var answers: (Int32, Int32, Int32, Int32, Int32, Int32) = (-1, -1, -1, -1, -1, -1)

    func answer(_ type: AnsweredType) -> Int {
        switch type {
        case .a: Int(answers.0)
        case .aaaa: Int(answers.1)
        case .srv: Int(answers.2)
        case .ns: Int(answers.3)
        case .soa: Int(answers.4)
        case .any: Int(answers.5)
        }
    }

    mutating func setAnswer(_ type: AnsweredType, _ index: Int) {
        let value = Int32(index)
        switch type {
        case .a: answers.0 = value
        case .aaaa: answers.1 = value
        case .srv: answers.2 = value
        case .ns: answers.3 = value
        case .soa: answers.4 = value
        case .any: answers.5 = value
        }
    }
}

// MARK: - Wire names

extension DNSName {
    /// The name in uncompressed wire form (length-prefixed labels, then the root's 0).
    var wireBytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(wireLength)
        for label in labels {
            bytes.append(UInt8(label.count))
            bytes.append(contentsOf: label)
        }
        bytes.append(0)
        return bytes
    }
}

/// The hash the lookup table uses: FNV-1a over the lower-case wire form, computed by the query
/// parser as it reads the name.
enum WireNameHash {
    static let offsetBasis: UInt32 = 2_166_136_261
    static let prime: UInt32 = 16_777_619

    @inline(__always)
    static func add(_ hash: UInt32, _ byte: UInt8) -> UInt32 { (hash ^ UInt32(byte)) &* prime }

    static func of(_ wire: [UInt8]) -> UInt32 {
        wire.reduce(offsetBasis) { add($0, DNSWireCase.lower($1)) }
    }
}
