import DiscoCore

// MARK: - Decoding

extension SWIM.WireCodec {
    /// Decodes one datagram (the packet starting at `start`, after a label; see
    /// ``readLabel(_:)``), or throws a ``SWIM/CodecError`` naming the problem. Offsets in errors
    /// count from the start of `bytes`.
    public static func decodePacket(_ bytes: [UInt8], from start: Int = 0) throws(SWIM.CodecError) -> SWIM.Packet {
        guard bytes.count <= maxDatagramSize else {
            throw SWIM.CodecError(.oversize, at: 0, "datagram is \(bytes.count) bytes, at most \(maxDatagramSize) allowed")
        }
        var reader = ByteReader(bytes, from: start)
        try readVersion(&reader)
        let typeOffset = reader.offset
        let rawType = try reader.u8("message type")
        let message: SWIM.Message
        switch MessageType(rawValue: rawType) {
        case .ping:
            let sequence = try readSequence(&reader)
            let source = try readNodeID(&reader, "ping source")
            let target = try readNodeID(&reader, "ping target")
            message = .ping(sequence: sequence, source: source, target: target)
        case .ack:
            let sequence = try readSequence(&reader)
            message = .ack(sequence: sequence, source: try readNodeID(&reader, "ack source"))
        case .nack:
            message = .nack(sequence: try readSequence(&reader))
        case .pingRequest:
            let sequence = try readSequence(&reader)
            let source = try readNodeID(&reader, "ping-request source")
            let target = try readNodeID(&reader, "ping-request target")
            let address = try readAddress(&reader, "ping-request target address")
            message = .pingRequest(sequence: sequence, source: source, target: target, targetAddress: address)
        case .gossip:
            message = .gossip
        case .pushPull, nil:
            throw SWIM.CodecError(.unknownType, at: typeOffset,
                                  "message type \(rawType) is not a datagram type (expected 1 ping, 2 ack, 3 nack, 4 ping-request or 5 gossip)")
        }
        let count = Int(try reader.u8("gossip count"))
        var items: [SWIM.GossipItem] = []
        items.reserveCapacity(count)
        for index in 0..<count { items.append(try readItem(&reader, index: index)) }
        guard reader.isAtEnd else {
            throw SWIM.CodecError(.trailingBytes, at: reader.offset, "\(reader.remaining) bytes follow the last gossip item")
        }
        return SWIM.Packet(message: message, gossip: items)
    }

    /// Decodes a push-pull state (starting at `start`, after a label; see ``readLabel(_:)``), or
    /// throws a ``SWIM/CodecError`` naming the problem. Offsets in errors count from the start of `bytes`.
    public static func decodePushPull(_ bytes: [UInt8], from start: Int = 0) throws(SWIM.CodecError) -> SWIM.PushPullState {
        guard bytes.count <= maxPushPullSize else {
            throw SWIM.CodecError(.oversize, at: 0, "push-pull state is \(bytes.count) bytes, at most \(maxPushPullSize) allowed")
        }
        var reader = ByteReader(bytes, from: start)
        try readVersion(&reader)
        let typeOffset = reader.offset
        let rawType = try reader.u8("message type")
        guard rawType == MessageType.pushPull.rawValue else {
            throw SWIM.CodecError(.unknownType, at: typeOffset, "message type \(rawType) is not a push-pull state (expected 16)")
        }
        let flagsOffset = reader.offset
        let flags = try reader.u8("push-pull flags")
        guard flags <= 1 else {
            throw SWIM.CodecError(.invalidValue, at: flagsOffset, "push-pull flags \(flags) are unknown (expected 0 or 1)")
        }
        let sender = try readNodeID(&reader, "push-pull sender")
        let countOffset = reader.offset
        let count = try reader.count("push-pull member count", limit: maxPushPullMembers)
        // Every member takes at least 8 bytes; reject impossible counts before allocating.
        guard count <= reader.remaining / 8 else {
            throw SWIM.CodecError(.badLength, at: countOffset, "member count \(count) cannot fit in the \(reader.remaining) bytes left")
        }
        var members: [SWIM.MemberState] = []
        members.reserveCapacity(count)
        for index in 0..<count {
            let id = try readNodeID(&reader, "id of member \(index)")
            let address = try readAddress(&reader, "address of member \(index)")
            let incarnation = try reader.varint("incarnation of member \(index)")
            let statusOffset = reader.offset
            let rawStatus = try reader.u8("status of member \(index)")
            guard let status = SWIM.MemberStatus(rawValue: rawStatus) else {
                throw SWIM.CodecError(.invalidValue, at: statusOffset,
                                      "status \(rawStatus) of member \(index) is unknown (expected 0 alive, 1 suspect, 2 dead or 3 left)")
            }
            let metadata = try readMetadata(&reader, "metadata of member \(index)")
            members.append(SWIM.MemberState(id: id, address: address, incarnation: incarnation, status: status, metadata: metadata))
        }
        guard reader.isAtEnd else {
            throw SWIM.CodecError(.trailingBytes, at: reader.offset, "\(reader.remaining) bytes follow the last member")
        }
        return SWIM.PushPullState(sender: sender, isJoin: flags == 1, members: members)
    }

    // MARK: Fields

    static func readVersion(_ reader: inout ByteReader) throws(SWIM.CodecError) {
        let offset = reader.offset
        let found = try reader.u8("version")
        guard found == version else {
            let what = found != SWIM.WireLabel.tag ? "version \(found) is not supported"
                : offset == 0 ? "this message is labelled (read its label with readLabel first)" : "a second label is not allowed"
            throw SWIM.CodecError(.unsupportedVersion, at: offset, "\(what) (expected \(version))")
        }
    }

    static func readSequence(_ reader: inout ByteReader) throws(SWIM.CodecError) -> SWIM.Sequence {
        let start = reader.offset
        let value = try reader.varint("sequence number")
        guard value <= UInt64(SWIM.Sequence.max) else {
            throw SWIM.CodecError(.invalidValue, at: start, "sequence number \(value) exceeds \(SWIM.Sequence.max)")
        }
        return SWIM.Sequence(value)
    }

    static func readNodeID(_ reader: inout ByteReader, _ field: String) throws(SWIM.CodecError) -> NodeID {
        let start = reader.offset
        let text = try reader.string(field, maxBytes: maxNodeIDBytes)
        guard let id = NodeID(text) else {
            throw SWIM.CodecError(.invalidValue, at: start, "\(field) \(text.debugDescription) is not a node ID (non-empty, no whitespace or control characters)")
        }
        return id
    }

    static func readAddress(_ reader: inout ByteReader, _ field: String) throws(SWIM.CodecError) -> PeerAddress {
        let start = reader.offset
        let host = try reader.string("host of \(field)", maxBytes: maxHostBytes)
        guard !host.isEmpty, host.utf8.allSatisfy(isHostByte) else {
            throw SWIM.CodecError(.invalidValue, at: start, "host of \(field) \(host.debugDescription) is not a host name or IP literal (letters, digits, -._:%)")
        }
        let portOffset = reader.offset
        let port = try reader.u16("port of \(field)")
        guard port != 0 else {
            throw SWIM.CodecError(.invalidValue, at: portOffset, "port of \(field) is 0 (expected 1...65535)")
        }
        return PeerAddress(host: host, port: port)
    }

    static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "%"):
            true
        default:
            false
        }
    }

    static func readMetadata(_ reader: inout ByteReader, _ field: String) throws(SWIM.CodecError) -> SWIM.Metadata {
        let flagsOffset = reader.offset
        let flags = try reader.u8("flags of \(field)")
        guard flags & ~0x0F == 0, flags & 0x0C == 0 || flags & 0x02 != 0, flags & 0x0C != 0x08 else {
            throw SWIM.CodecError(.invalidValue, at: flagsOffset, "flags \(flags) of \(field) are invalid (bits: 1 voter, 2 API address, 4 scheme, 8 https with scheme)")
        }
        var api: PeerAddress?
        if flags & 0x02 != 0 {
            let address = try readAddress(&reader, "API address in \(field)")
            let scheme: PeerAddress.Scheme? = flags & 0x04 == 0 ? nil : (flags & 0x08 != 0 ? .https : .http)
            api = PeerAddress(host: address.host, port: address.port, scheme: scheme)
        }
        let epoch = try reader.varint("epoch in \(field)")
        let countOffset = reader.offset
        let count = Int(try reader.u8("role count in \(field)"))
        guard count <= maxRoles else {
            throw SWIM.CodecError(.oversize, at: countOffset, "\(count) roles in \(field), at most \(maxRoles) allowed")
        }
        var roles: [String] = []
        roles.reserveCapacity(count)
        for index in 0..<count { roles.append(try reader.string("role \(index) in \(field)", maxBytes: maxRoleBytes)) }
        return SWIM.Metadata(apiAddress: api, roles: roles, epoch: epoch, isVoter: flags & 1 != 0)
    }

    static func readItem(_ reader: inout ByteReader, index: Int) throws(SWIM.CodecError) -> SWIM.GossipItem {
        let kindOffset = reader.offset
        let rawKind = try reader.u8("kind of gossip item \(index)")
        guard let kind = ItemKind(rawValue: rawKind) else {
            throw SWIM.CodecError(.unknownType, at: kindOffset,
                                  "gossip item \(index) has kind \(rawKind) (expected 1 alive, 2 suspect, 3 dead or 4 left)")
        }
        let id = try readNodeID(&reader, "subject of gossip item \(index)")
        let incarnation = try reader.varint("incarnation of gossip item \(index)")
        switch kind {
        case .alive:
            let address = try readAddress(&reader, "address in gossip item \(index)")
            let metadata = try readMetadata(&reader, "metadata in gossip item \(index)")
            return .alive(id: id, incarnation: incarnation, address: address, metadata: metadata)
        case .suspect:
            return .suspect(id: id, incarnation: incarnation, accuser: try readNodeID(&reader, "accuser in gossip item \(index)"))
        case .dead:
            return .dead(id: id, incarnation: incarnation, accuser: try readNodeID(&reader, "accuser in gossip item \(index)"))
        case .left:
            return .left(id: id, incarnation: incarnation)
        }
    }
}
