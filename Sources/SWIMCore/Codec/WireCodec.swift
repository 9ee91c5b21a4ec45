import DiscoCore

// MARK: - Wire format
//
// Every datagram: version (u8 = 1), message type (u8), message body, gossip count (u8), items.
// Push-pull states use the same version byte and type 0x10. Integers are unsigned LEB128
// varints unless noted; strings are a varint byte length followed by UTF-8; an address is a
// host string and a big-endian u16 port.
//
// In front of the version, a plaintext message may carry its cluster's label (WireLabel.swift):
//
//     0x4C | label length (u8, 1...255) | label (UTF-8) | version (u8 = 1) | ...
//
// First bytes: 0x01 a message, 0x4C a labelled message, 0x81 a sealed envelope
// (DiscoSWIM's GossipSealer, which binds the label into its associated data instead).

extension SWIM {
    /// Encodes and strictly decodes SWIM packets and push-pull states.
    public enum WireCodec {
        /// The only wire version this codec speaks.
        public static let version: UInt8 = 1
        /// Largest datagram the decoder accepts (the IPv4 UDP payload limit).
        public static let maxDatagramSize = 65_507
        /// Largest push-pull state the decoder accepts.
        public static let maxPushPullSize = 64 << 20
        /// Most members a push-pull state may list.
        public static let maxPushPullMembers = 1_000_000
        /// Longest node ID in bytes (as ``NodeID`` allows).
        public static let maxNodeIDBytes = 256
        /// Longest host name in bytes.
        public static let maxHostBytes = 253
        /// Most roles a member may announce, and the longest role name in bytes.
        public static let maxRoles = 16
        public static let maxRoleBytes = 64
        /// Most gossip items in one packet.
        public static let maxGossipItems = 255

        enum MessageType: UInt8 {
            case ping = 1, ack = 2, nack = 3, pingRequest = 4, gossip = 5, pushPull = 0x10
        }

        enum ItemKind: UInt8 {
            case alive = 1, suspect = 2, dead = 3, left = 4
        }

        // MARK: Encoding

        /// Encodes `packet` as one datagram, with `label` in front when given.
        public static func encode(_ packet: Packet, label: WireLabel? = nil) -> [UInt8] {
            var writer = ByteWriter(capacity: 256)
            if let label { writer.bytes.append(contentsOf: label.prefix) }
            writeHeader(packet.message, into: &writer)
            writer.u8(UInt8(min(packet.gossip.count, maxGossipItems)))
            for item in packet.gossip.prefix(maxGossipItems) { write(item, into: &writer) }
            return writer.bytes
        }

        /// Size of `message` encoded with an empty gossip list (including the count byte).
        static func encodedSize(of message: Message) -> Int {
            var writer = ByteWriter(capacity: 64)
            writeHeader(message, into: &writer)
            return writer.bytes.count + 1
        }

        /// Size one gossip item adds to a packet.
        static func encodedSize(of item: GossipItem) -> Int {
            var writer = ByteWriter(capacity: 64)
            write(item, into: &writer)
            return writer.bytes.count
        }

        /// Encodes a push-pull state, with `label` in front when given.
        public static func encode(_ state: PushPullState, label: WireLabel? = nil) -> [UInt8] {
            var writer = ByteWriter(capacity: 32 + state.members.count * 48)
            if let label { writer.bytes.append(contentsOf: label.prefix) }
            writer.u8(version)
            writer.u8(MessageType.pushPull.rawValue)
            writer.u8(state.isJoin ? 1 : 0)
            writer.string(state.sender.rawValue)
            writer.varint(UInt64(state.members.count))
            for member in state.members {
                writer.string(member.id.rawValue)
                write(member.address, into: &writer)
                writer.varint(member.incarnation)
                writer.u8(member.status.rawValue)
                write(member.metadata, into: &writer)
            }
            return writer.bytes
        }

        static func writeHeader(_ message: Message, into writer: inout ByteWriter) {
            writer.u8(version)
            switch message {
            case .ping(let sequence, let source, let target):
                writer.u8(MessageType.ping.rawValue)
                writer.varint(UInt64(sequence))
                writer.string(source.rawValue)
                writer.string(target.rawValue)
            case .ack(let sequence, let source):
                writer.u8(MessageType.ack.rawValue)
                writer.varint(UInt64(sequence))
                writer.string(source.rawValue)
            case .nack(let sequence):
                writer.u8(MessageType.nack.rawValue)
                writer.varint(UInt64(sequence))
            case .pingRequest(let sequence, let source, let target, let address):
                writer.u8(MessageType.pingRequest.rawValue)
                writer.varint(UInt64(sequence))
                writer.string(source.rawValue)
                writer.string(target.rawValue)
                write(address, into: &writer)
            case .gossip:
                writer.u8(MessageType.gossip.rawValue)
            }
        }

        static func write(_ item: GossipItem, into writer: inout ByteWriter) {
            switch item {
            case .alive(let id, let incarnation, let address, let metadata):
                writer.u8(ItemKind.alive.rawValue)
                writer.string(id.rawValue)
                writer.varint(incarnation)
                write(address, into: &writer)
                write(metadata, into: &writer)
            case .suspect(let id, let incarnation, let accuser):
                writer.u8(ItemKind.suspect.rawValue)
                writer.string(id.rawValue)
                writer.varint(incarnation)
                writer.string(accuser.rawValue)
            case .dead(let id, let incarnation, let accuser):
                writer.u8(ItemKind.dead.rawValue)
                writer.string(id.rawValue)
                writer.varint(incarnation)
                writer.string(accuser.rawValue)
            case .left(let id, let incarnation):
                writer.u8(ItemKind.left.rawValue)
                writer.string(id.rawValue)
                writer.varint(incarnation)
            }
        }

        static func write(_ address: PeerAddress, into writer: inout ByteWriter) {
            writer.string(address.host)
            writer.u16(address.port)
        }

        /// Flags: bit 0 voter, bit 1 API address present, bit 2 API scheme present, bit 3 https.
        static func write(_ metadata: Metadata, into writer: inout ByteWriter) {
            var flags: UInt8 = metadata.isVoter ? 1 : 0
            if let api = metadata.apiAddress {
                flags |= 2
                if let scheme = api.scheme { flags |= scheme == .https ? 12 : 4 }
            }
            writer.u8(flags)
            if let api = metadata.apiAddress { write(api, into: &writer) }
            writer.varint(metadata.epoch)
            writer.u8(UInt8(min(metadata.roles.count, maxRoles)))
            for role in metadata.roles.prefix(maxRoles) { writer.string(role) }
        }
    }
}
