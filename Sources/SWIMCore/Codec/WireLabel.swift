// MARK: - Cluster labels on plaintext messages
//
// A plaintext datagram or push-pull state may start with a label naming the cluster:
//
//     tag (u8 = 0x4C, "L") | label length (u8, 1...255) | label (UTF-8) | message (version 1 ...)
//
// The tag is not a codec version (1) nor the sealed envelope's version (0x81), so the first
// byte still tells the three apart, and an unlabelled message (from a member of an older
// version) reads as before. A receiver with a label drops a message labelled with another one.

extension SWIM {
    /// A cluster label as plaintext messages carry it: 1 to 255 bytes of UTF-8 without control
    /// characters, sent as a prefix so members of another cluster can drop what is not theirs.
    public struct WireLabel: Hashable, Sendable, CustomStringConvertible {
        /// The label's text (discod uses the cluster name).
        public let name: String
        /// Tag, length and UTF-8 bytes: what goes in front of every labelled message.
        public let prefix: [UInt8]

        /// The first byte of a labelled message.
        public static let tag: UInt8 = 0x4C
        /// The longest label in bytes (its length is one byte on the wire).
        public static let maxBytes = 255

        /// Checks `name`; throws a ``CodecError`` when it is empty, longer than ``maxBytes``
        /// bytes or holds control characters.
        public init(_ name: String) throws(CodecError) {
            let bytes = Array(name.utf8)
            guard !bytes.isEmpty else {
                throw CodecError(.invalidValue, at: 0, "a cluster label cannot be empty (send no label instead)")
            }
            guard bytes.count <= Self.maxBytes else {
                throw CodecError(.oversize, at: 0, "cluster label is \(bytes.count) bytes, at most \(Self.maxBytes) allowed")
            }
            guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw CodecError(.invalidValue, at: 0, "cluster label \(name.debugDescription) holds control characters")
            }
            self.name = name
            prefix = [Self.tag, UInt8(bytes.count)] + bytes
        }

        public var description: String { name }
    }
}

extension SWIM.WireCodec {
    /// Where a plaintext message begins, and the cluster label in front of it (nil for an
    /// unlabelled message). Throws a ``SWIM/CodecError`` for a label that is truncated, empty
    /// not UTF-8 or holds control characters; the message itself is not looked at (decode it from `messageStart`).
    public static func readLabel(_ bytes: [UInt8]) throws(SWIM.CodecError) -> (label: String?, messageStart: Int) {
        guard bytes.first == SWIM.WireLabel.tag else { return (nil, 0) }
        var reader = ByteReader(bytes)
        _ = try reader.u8("label tag")
        let lengthOffset = reader.offset
        let length = Int(try reader.u8("label length"))
        guard length > 0 else {
            throw SWIM.CodecError(.badLength, at: lengthOffset, "label length is 0 (expected 1...\(SWIM.WireLabel.maxBytes))")
        }
        guard reader.remaining >= length else {
            throw SWIM.CodecError(.truncated, at: lengthOffset, "label declares \(length) bytes but only \(reader.remaining) remain")
        }
        let start = reader.offset
        guard let label = String(validating: bytes[start..<start + length], as: UTF8.self) else {
            throw SWIM.CodecError(.invalidValue, at: start, "label is not valid UTF-8")
        }
        guard !label.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw SWIM.CodecError(.invalidValue, at: start, "label \(label.debugDescription) holds control characters")
        }
        guard start + length < bytes.count else {
            throw SWIM.CodecError(.truncated, at: start + length, "input ended after the label \(label.debugDescription), before the message")
        }
        return (label, start + length)
    }

    /// Decodes a datagram that may carry a label: the label (nil when there is none) and the packet.
    public static func decodeLabelledPacket(_ bytes: [UInt8]) throws(SWIM.CodecError) -> (label: String?, packet: SWIM.Packet) {
        let (label, start) = try readLabel(bytes)
        return (label, try decodePacket(bytes, from: start))
    }

    /// Decodes a push-pull state that may carry a label: the label (nil when there is none) and the state.
    public static func decodeLabelledPushPull(_ bytes: [UInt8]) throws(SWIM.CodecError) -> (label: String?, state: SWIM.PushPullState) {
        let (label, start) = try readLabel(bytes)
        return (label, try decodePushPull(bytes, from: start))
    }
}
