import DiscoCore
import DiscoNet

// MARK: - Frame types

/// How Raft messages travel as internode ``Frame``s.
///
/// - Type 1, *message*: the payload is one message in ``RaftCodec`` encoding (which carries its
///   own format version).
/// - Type 2, *chunk*: one piece of a message too large for one frame (a snapshot, or an append
///   with a huge entry). Payload: chunk format version (1 byte, currently 1), transfer ID (8),
///   total length of the encoded message (8), CRC32C of the whole encoded message (4), offset of
///   this piece (8), then the piece. The pieces of one message are sent back to back, in order;
///   the receiver reassembles them up to a size cap and checks the CRC before decoding.
///
/// - Type 3, *sealed*: a type 1 or 2 frame sealed with a shared key (``RaftFrameProtection``).
///
/// A transport with a cluster name starts every connection with a ``RaftHello`` (a type 1 frame
/// that names the cluster, which older receivers drop as a message for another node).
///
/// Integers are big-endian.
public enum RaftWireFormat {
    public static let messageFrameType: UInt8 = 1
    public static let chunkFrameType: UInt8 = 2

    /// Whether frames of `type` belong to Raft (others may be handed to another protocol sharing
    /// the port; see ``RaftForeignFrameHandler``).
    public static func isRaftFrameType(_ type: UInt8) -> Bool {
        type == messageFrameType || type == chunkFrameType || type == sealedFrameType
    }
    /// The chunk header format this build writes and reads.
    public static let chunkVersion: UInt8 = 1
    /// Bytes of a chunk payload before the piece.
    public static let chunkHeaderSize = 1 + 8 + 8 + 4 + 8
    /// Default largest piece of a chunked message (1 MiB).
    public static let defaultChunkSize = 1 << 20
    /// Largest piece any node may send (receivers accept frames up to this, so nodes with
    /// different chunk sizes interoperate).
    public static let maxChunkSize = 8 << 20
    /// Default cap on a reassembled message: the largest snapshot the codec accepts, plus room
    /// for the message header. (The buffer grows as pieces arrive.)
    public static let defaultMaxMessageBytes = RaftCodec.maxSnapshotSize + (1 << 20)

    /// The frames that carry `message`: one message frame, or chunk frames when its encoding is
    /// larger than `chunkSize`. `transferID` labels the chunks (any value unique per connection).
    public static func frames(for message: Message, chunkSize: Int = defaultChunkSize, transferID: UInt64) -> [Frame] {
        frames(forEncoded: RaftCodec.encode(message), chunkSize: chunkSize, transferID: transferID)
    }

    /// Like ``frames(for:chunkSize:transferID:)`` for an already encoded message.
    public static func frames(forEncoded encoded: [UInt8], chunkSize: Int, transferID: UInt64) -> [Frame] {
        let pieceSize = max(1, chunkSize)
        guard encoded.count > pieceSize else { return [Frame(type: messageFrameType, payload: encoded)] }
        let checksum = CRC32C.checksum(encoded)
        var frames: [Frame] = []
        frames.reserveCapacity((encoded.count + pieceSize - 1) / pieceSize)
        var offset = 0
        while offset < encoded.count {
            let end = min(encoded.count, offset + pieceSize)
            var writer = ByteWriter()
            writer.bytes.reserveCapacity(chunkHeaderSize + end - offset)
            writer.u8(chunkVersion)
            writer.u64(transferID)
            writer.u64(UInt64(encoded.count))
            writer.u32(checksum)
            writer.u64(UInt64(offset))
            writer.bytes.append(contentsOf: encoded[offset..<end])
            frames.append(Frame(type: chunkFrameType, payload: writer.bytes))
            offset = end
        }
        return frames
    }
}

// MARK: - Reassembly

/// Turns the frames of one connection back into messages, strictly: an unknown frame type, a
/// malformed message, a chunk out of order, over the size cap or failing its checksum is an error
/// that names what is wrong (the connection should then be closed). Pure: no I/O.
public struct RaftFrameAssembler: Sendable {
    /// Largest message accepted after reassembly.
    public let maxMessageBytes: Int

    private struct Transfer: Sendable {
        var id: UInt64
        var total: Int
        var checksum: UInt32
        var bytes: [UInt8]
    }

    private var transfer: Transfer?

    public init(maxMessageBytes: Int = RaftWireFormat.defaultMaxMessageBytes) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Whether a chunked message is partly received.
    public var isReassembling: Bool { transfer != nil }

    /// Takes one frame; returns the message it completes, if any.
    public mutating func accept(_ frame: Frame) throws(RaftError) -> Message? {
        switch frame.type {
        case RaftWireFormat.messageFrameType:
            if let transfer {
                throw RaftError(.malformedFrame,
                                "message frame inside chunked transfer \(transfer.id) (\(transfer.bytes.count) of \(transfer.total) bytes received); expected its next chunk")
            }
            return try RaftCodec.decodeMessage(frame.payload)
        case RaftWireFormat.chunkFrameType:
            return try acceptChunk(frame.payload)
        default:
            throw RaftError(.malformedFrame,
                            "frame type \(frame.type) is unknown; expected \(RaftWireFormat.messageFrameType) (message) or \(RaftWireFormat.chunkFrameType) (message chunk)")
        }
    }

    private mutating func acceptChunk(_ payload: [UInt8]) throws(RaftError) -> Message? {
        var reader = ByteReader(payload)
        let version = try reader.u8("chunk version")
        guard version == RaftWireFormat.chunkVersion else {
            throw RaftError(.malformedFrame, "chunk version \(version) is unsupported; expected \(RaftWireFormat.chunkVersion)")
        }
        let id = try reader.u64("transfer id")
        let total = try reader.u64("chunk total length")
        let checksum = try reader.u32("chunk checksum")
        let offset = try reader.u64("chunk offset")
        let piece = payload[reader.offset...]
        guard total > 0, total <= UInt64(maxMessageBytes) else {
            throw RaftError(.malformedFrame, "chunked message of \(total) bytes; expected 1...\(maxMessageBytes)")
        }
        guard !piece.isEmpty else { throw RaftError(.malformedFrame, "chunk of transfer \(id) at offset \(offset) is empty") }
        var current: Transfer
        if let transfer {
            guard id == transfer.id, Int(total) == transfer.total, checksum == transfer.checksum else {
                throw RaftError(.malformedFrame,
                                "chunk of transfer \(id) (total \(total)) arrived while transfer \(transfer.id) (total \(transfer.total)) is incomplete")
            }
            current = transfer
        } else {
            current = Transfer(id: id, total: Int(total), checksum: checksum, bytes: [])
            // Grown as pieces arrive: a header alone must not make the receiver allocate the cap.
            current.bytes.reserveCapacity(min(Int(total), 1 << 20))
        }
        guard offset == UInt64(current.bytes.count) else {
            throw RaftError(.malformedFrame, "chunk of transfer \(id) at offset \(offset); expected offset \(current.bytes.count)")
        }
        guard current.bytes.count + piece.count <= current.total else {
            throw RaftError(.malformedFrame,
                            "chunk of transfer \(id) ends at \(current.bytes.count + piece.count), past the total of \(current.total) bytes")
        }
        transfer = nil  // released while appending so the buffer is not copied
        current.bytes.append(contentsOf: piece)
        guard current.bytes.count == current.total else {
            transfer = current
            return nil
        }
        let actual = CRC32C.checksum(current.bytes)
        guard actual == current.checksum else {
            throw RaftError(.malformedFrame,
                            "chunked transfer \(id) checksum mismatch: header says \(current.checksum), bytes give \(actual)")
        }
        return try RaftCodec.decodeMessage(current.bytes)
    }
}
