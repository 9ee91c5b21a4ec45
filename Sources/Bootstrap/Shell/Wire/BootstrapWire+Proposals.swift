import DiscoCore

// MARK: - Proposals on the wire

extension BootstrapWire {
    /// The body of `POST /bootstrap/propose`, also the promise file's content.
    public static func encode(_ proposal: Proposal) -> [UInt8] {
        JSONValue.object(proposalObject(proposal)).encodedBytes()
    }

    static func proposalObject(_ proposal: Proposal) -> JSONObject {
        JSONObject([
            .init(key: "proposer", value: .string(proposal.id.proposer.rawValue)),
            .init(key: "sequence", value: JSONValue(proposal.id.sequence)),
            .init(key: "cluster", value: .string(proposal.cluster)),
            .init(key: "expect", value: JSONValue(proposal.expect)),
            .init(key: "voters", value: peerArray(proposal.voters)),
        ])
    }

    public static func decodeProposal(_ body: [UInt8]) throws(BootstrapWireError) -> Proposal {
        try proposal(from: WireReader(body: body))
    }

    static func proposal(from reader: WireReader) throws(BootstrapWireError) -> Proposal {
        let id = ProposalID(proposer: try reader.nodeID("proposer"), sequence: try reader.positiveUInt64("sequence"))
        let cluster = try reader.string("cluster", "a cluster name (a non-empty string)")
        let expect = try reader.positiveInt("expect")
        let voters = try peers("voters", in: reader)
        guard !voters.isEmpty else {
            throw BootstrapWireError(.invalidField, field: reader.path("voters"),
                                     message: "\"\(reader.path("voters"))\" must list at least one voter, got an empty array")
        }
        guard Set(voters.map(\.id)).count == voters.count else {
            throw BootstrapWireError(.invalidField, field: reader.path("voters"),
                                     message: "\"\(reader.path("voters"))\" must list distinct node IDs, got duplicates")
        }
        guard voters[0].id == id.proposer else {
            throw BootstrapWireError(.invalidField, field: reader.path("voters"),
                                     message: "\"\(reader.path("voters"))\" must start with the proposer \(id.proposer), got \(voters[0].id)")
        }
        return Proposal(id: id, cluster: cluster, expect: expect, voters: voters)
    }

    /// 200 `{"accepted":true}` or 409 `{"error": reason}`.
    public static func encode(_ reply: ProposalReply) -> (status: Int, body: [UInt8]) {
        switch reply {
        case .accepted: (200, object([("accepted", true)]))
        case .refused(let reason): (409, errorBody(reason))
        }
    }

    public static func decodeProposalReply(status: Int, body: [UInt8]) throws(BootstrapWireError) -> ProposalReply {
        switch status {
        case 200:
            let reader = try WireReader(body: body)
            let accepted = try reader.required("accepted", "true")
            guard accepted == .bool(true) else { throw reader.invalid("accepted", "true (a refusal is a 409)", got: accepted) }
            return .accepted
        case 409:
            return .refused(errorMessage(in: body))
        default:
            throw unexpected(status, body, answering: "POST /bootstrap/propose")
        }
    }

    // MARK: Abandon

    /// The body of `POST /bootstrap/abandon`.
    public static func encodeAbandon(_ id: ProposalID) -> [UInt8] {
        object([("proposer", .string(id.proposer.rawValue)), ("sequence", JSONValue(id.sequence))])
    }

    public static func decodeAbandon(_ body: [UInt8]) throws(BootstrapWireError) -> ProposalID {
        let reader = try WireReader(body: body)
        return ProposalID(proposer: try reader.nodeID("proposer"), sequence: try reader.positiveUInt64("sequence"))
    }

    // MARK: Status

    /// The query of `GET /bootstrap/status`: `proposer=ID&sequence=N`, the ID percent-encoded.
    public static func statusQuery(_ id: ProposalID) -> String {
        "proposer=\(percentEncoded(id.proposer.rawValue))&sequence=\(id.sequence)"
    }

    public static func decodeStatusQuery(_ query: String?) throws(BootstrapWireError) -> ProposalID {
        var fields = JSONObject()
        for pair in (query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            guard key == "proposer" || key == "sequence" else { continue }
            guard parts.count == 2, let value = percentDecoded(parts[1]) else {
                throw BootstrapWireError(.invalidField, field: key,
                                         message: "query parameter \"\(key)\" must be key=value with valid percent-encoding")
            }
            guard fields[key] == nil else {
                throw BootstrapWireError(.invalidField, field: key, message: "query parameter \"\(key)\" is given twice")
            }
            fields[key] = key == "sequence" ? (JSONNumber(text: value).map(JSONValue.number) ?? .string(value)) : .string(value)
        }
        let reader = try WireReader(.object(fields), path: "")
        return ProposalID(proposer: try reader.nodeID("proposer"), sequence: try reader.positiveUInt64("sequence"))
    }

    /// 200 `{"status":"bootstrapped"|"abandoned"|"pending"}`.
    public static func encode(_ status: ProposalStatus) -> [UInt8] {
        let name: String
        switch status {
        case .bootstrapped: name = "bootstrapped"
        case .abandoned: name = "abandoned"
        case .pending: name = "pending"
        }
        return object([("status", .string(name))])
    }

    public static func decodeStatus(status: Int, body: [UInt8]) throws(BootstrapWireError) -> ProposalStatus {
        guard status == 200 else { throw unexpected(status, body, answering: "GET /bootstrap/status") }
        let reader = try WireReader(body: body)
        let expected = "\"bootstrapped\", \"abandoned\" or \"pending\""
        let value = try reader.required("status", expected)
        switch value.stringValue {
        case "bootstrapped": return .bootstrapped
        case "abandoned": return .abandoned
        case "pending": return .pending
        default: throw reader.invalid("status", expected, got: value)
        }
    }

    // MARK: Percent-encoding

    /// Encodes every byte outside RFC 3986's unreserved set.
    static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.append(byte)
            default:
                output += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes `%XX` escapes (and `+` as a space); `nil` for a broken escape or invalid UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var output: [UInt8] = []
        var bytes = text.utf8.makeIterator()
        func digit(_ byte: UInt8?) -> UInt8? {
            switch byte {
            case let b? where b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"): b - UInt8(ascii: "0")
            case let b? where b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
            case let b? where b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while let byte = bytes.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = digit(bytes.next()), let low = digit(bytes.next()) else { return nil }
                output.append(high << 4 | low)
            } else {
                output.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            }
        }
        return String(validating: output, as: UTF8.self)
    }
}
