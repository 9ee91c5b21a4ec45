import DiscoCore

// MARK: - ClusterCommand

/// A change to the replicated cluster state: the payload of a Raft normal entry.
///
/// Wire format (version 4), all integers big-endian:
///
///     version u8 = 4 | tag u8 | fields
///     tag 1 initialize:      cluster name8, epoch u64
///     tag 2 upsertMember:    id name8, raftAddress name8, apiAddress name8, voter u8 (0 or 1),
///                            keyHash u8-length (0 or 32) + bytes, roles u8-count (≤ 32) + name8 each,
///                            generation u64
///     tag 3 removeMember:    id name8
///     tag 4 appendEvent:     timeMillis i64, data u32-length + bytes (≤ 1 MiB, one JSON value)
///     tag 5 trimEvents:      through u64 (≥ 1)
///     tag 6 appendEventOnce: timeMillis i64, key name8 (1 to 128 visible ASCII), data as tag 4
///     tag 7 kvTransaction:   condition u8-count (≤ 64): namespace name8, name name8, revision u64;
///                            operation u8-count (1 to 64): op u8 then
///                              1 put: namespace name8, name name8, value u32-length + bytes (≤ 64 KiB)
///                              2 delete: namespace name8, name name8
///                              3 deletePrefix: namespace name8, prefix name8 (may be empty)
///
/// where `name8` is a one-byte length followed by that many bytes of UTF-8. Versions 1 (before
/// member key hashes and idempotency keys: tag 2 without `keyHash`, no tag 6) and 2 (before
/// member roles and the key-value state: tag 2 without `roles`, no tag 7) and 3 (before member
/// generations: tag 2 without `generation`, read as 0) are still read. Decoding is strict: no trailing bytes, flags exactly 0 or 1, node IDs valid, event data a
/// JSON value.
public enum ClusterCommand: Hashable, Sendable {
    /// Names the cluster and its epoch. The first one applied wins; later ones are ignored.
    case initialize(cluster: String, epoch: UInt64)
    /// Adds a member, or replaces the one with the same ID unless the recorded member has a higher
    /// ``ClusterMember/generation`` (a stale self-description).
    case upsertMember(ClusterMember)
    /// Removes a member (ignored when it is unknown).
    case removeMember(NodeID)
    /// Appends an event: the proposing leader's wall clock and the JSON value's bytes as posted.
    case appendEvent(timeMillis: Int64, data: [UInt8])
    /// Drops the events with a sequence number up to `through` (the leader's retention policy);
    /// later sequence numbers are unchanged.
    case trimEvents(through: UInt64)
    /// Appends an event unless `key` is in the ``IdempotencyWindow`` (then the first append's
    /// result stands); records the key otherwise.
    case appendEventOnce(timeMillis: Int64, key: String, data: [UInt8])
    /// Applies a transaction to the replicated key-value state (``KVStore``).
    case kvTransaction(KVTransaction)

    /// The format version ``encode()`` writes.
    public static let formatVersion: UInt8 = 4
    /// The versions ``decode(_:)`` reads.
    public static let readableVersions: ClosedRange<UInt8> = 1...4

    /// Tag bytes.
    enum Tag: UInt8 {
        case initialize = 1, upsertMember = 2, removeMember = 3, appendEvent = 4, trimEvents = 5, appendEventOnce = 6
        case kvTransaction = 7

        /// The first format version with this tag.
        var since: UInt8 {
            switch self {
            case .initialize, .upsertMember, .removeMember, .appendEvent, .trimEvents: 1
            case .appendEventOnce: 2
            case .kvTransaction: 3
            }
        }
    }

    static let subject = "cluster command"

    // MARK: Encoding

    /// The command's bytes, ready to propose. Throws when a field is over its limit (names 255
    /// bytes, event data 1 MiB) or the event data is not one JSON value, so whatever encodes
    /// also decodes.
    public func encode() throws(ClusterCodingError) -> [UInt8] {
        var writer = ClusterByteWriter()
        writer.u8(Self.formatVersion)
        switch self {
        case .initialize(let cluster, let epoch):
            try Self.check(ClusterFieldCheck.nameProblem(cluster), field: "cluster")
            writer.u8(Tag.initialize.rawValue)
            writer.name(cluster)
            writer.u64(epoch)
        case .upsertMember(let member):
            if let (field, message) = member.encodingProblem(field: "member.") {
                throw ClusterCodingError(subject: Self.subject, code: .tooLarge, field: field, offset: nil, message: message)
            }
            writer.u8(Tag.upsertMember.rawValue)
            member.encode(into: &writer)
        case .removeMember(let id):
            try Self.check(ClusterFieldCheck.nameProblem(id.rawValue), field: "id")
            writer.u8(Tag.removeMember.rawValue)
            writer.name(id.rawValue)
        case .appendEvent(let timeMillis, let data):
            if let (code, message) = ClusterFieldCheck.eventDataProblem(data) {
                throw ClusterCodingError(subject: Self.subject, code: code, field: "data", offset: nil, message: message)
            }
            writer.u8(Tag.appendEvent.rawValue)
            writer.i64(timeMillis)
            writer.blob(data)
        case .trimEvents(let through):
            guard through > 0 else {
                throw ClusterCodingError(subject: Self.subject, code: .invalidValue, field: "through", offset: nil,
                                         message: "expected a sequence number of at least 1, found 0")
            }
            writer.u8(Tag.trimEvents.rawValue)
            writer.u64(through)
        case .appendEventOnce(let timeMillis, let key, let data):
            if let problem = IdempotencyWindow.problem(with: key) {
                throw ClusterCodingError(subject: Self.subject, code: .invalidValue, field: "key", offset: nil,
                                         message: "idempotency key \(problem)")
            }
            if let (code, message) = ClusterFieldCheck.eventDataProblem(data) {
                throw ClusterCodingError(subject: Self.subject, code: code, field: "data", offset: nil, message: message)
            }
            writer.u8(Tag.appendEventOnce.rawValue)
            writer.i64(timeMillis)
            writer.name(key)
            writer.blob(data)
        case .kvTransaction(let transaction):
            if let problem = transaction.problem {
                throw ClusterCodingError(subject: Self.subject, code: .invalidValue, field: "transaction", offset: nil, message: problem)
            }
            writer.u8(Tag.kvTransaction.rawValue)
            transaction.encode(into: &writer)
        }
        return writer.bytes
    }

    private static func check(_ problem: String?, field: String) throws(ClusterCodingError) {
        if let problem {
            throw ClusterCodingError(subject: subject, code: .tooLarge, field: field, offset: nil, message: problem)
        }
    }

    // MARK: Decoding

    /// Decodes bytes written by ``encode()``, refusing anything else with an error that names
    /// the field, the offset and what was expected.
    public static func decode(_ bytes: [UInt8]) throws(ClusterCodingError) -> ClusterCommand {
        var reader = ClusterByteReader(bytes, subject: subject)
        let version = try reader.u8("version")
        guard readableVersions.contains(version) else {
            throw reader.error(.unsupportedVersion, "version", at: 0,
                               "expected format version \(readableVersions.lowerBound) to \(formatVersion), found \(version)")
        }
        let tagByte = try reader.u8("tag")
        guard let tag = Tag(rawValue: tagByte), version >= tag.since else {
            let later = Tag(rawValue: tagByte).map { " (tag \($0.rawValue) needs format version \($0.since))" } ?? ""
            throw reader.error(.unknownTag, "tag", at: 1,
                               "expected 1 (initialize), 2 (upsertMember), 3 (removeMember), 4 (appendEvent), 5 (trimEvents), "
                                   + "6 (appendEventOnce) or 7 (kvTransaction), found \(tagByte)\(later)")
        }
        let command: ClusterCommand
        switch tag {
        case .initialize:
            let cluster = try reader.name("cluster")
            command = .initialize(cluster: cluster, epoch: try reader.u64("epoch"))
        case .upsertMember:
            command = .upsertMember(try ClusterMember.decode(from: &reader, field: "member.", withKeyHash: version >= 2, withRoles: version >= 3,
                                                                     withGeneration: version >= 4))
        case .removeMember:
            command = .removeMember(try reader.nodeID("id"))
        case .appendEvent:
            let timeMillis = try reader.i64("timeMillis")
            let dataStart = reader.offset + 4
            let data = try reader.blob("data", limit: ClusterLimits.maxEventBytes)
            if let (code, message) = ClusterFieldCheck.eventDataProblem(data) {
                throw reader.error(code, "data", at: dataStart, message)
            }
            command = .appendEvent(timeMillis: timeMillis, data: data)
        case .trimEvents:
            let start = reader.offset
            let through = try reader.u64("through")
            guard through > 0 else {
                throw reader.error(.invalidValue, "through", at: start, "expected a sequence number of at least 1, found 0")
            }
            command = .trimEvents(through: through)
        case .appendEventOnce:
            let timeMillis = try reader.i64("timeMillis")
            let keyStart = reader.offset + 1
            let key = try reader.name("key")
            if let problem = IdempotencyWindow.problem(with: key) {
                throw reader.error(.invalidValue, "key", at: keyStart, "idempotency key \(problem)")
            }
            let dataStart = reader.offset + 4
            let data = try reader.blob("data", limit: ClusterLimits.maxEventBytes)
            if let (code, message) = ClusterFieldCheck.eventDataProblem(data) {
                throw reader.error(code, "data", at: dataStart, message)
            }
            command = .appendEventOnce(timeMillis: timeMillis, key: key, data: data)
        case .kvTransaction:
            command = .kvTransaction(try KVTransaction.decode(from: &reader))
        }
        try reader.expectEnd()
        return command
    }
}

// MARK: - Description

extension ClusterCommand: CustomStringConvertible {
    public var description: String {
        switch self {
        case .initialize(let cluster, let epoch): "initialize(cluster: \(cluster.debugDescription), epoch: \(epoch))"
        case .upsertMember(let member): "upsertMember(\(member))"
        case .removeMember(let id): "removeMember(\(id))"
        case .appendEvent(let timeMillis, let data): "appendEvent(time_ms: \(timeMillis), \(data.count) bytes)"
        case .trimEvents(let through): "trimEvents(through: \(through))"
        case .appendEventOnce(let timeMillis, let key, let data):
            "appendEventOnce(time_ms: \(timeMillis), key: \(key.debugDescription), \(data.count) bytes)"
        case .kvTransaction(let transaction):
            "kvTransaction(\(transaction.conditions.count) conditions, \(transaction.operations.count) operations)"
        }
    }
}
