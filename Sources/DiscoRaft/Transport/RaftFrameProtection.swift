import DiscoCore
import DiscoNet

// MARK: - Sealed frames

/// Seals the Raft frames a node sends and opens the ones it receives, so that only holders of a
/// shared key can speak Raft on the internode port (discod uses its gossip keyring).
///
/// A sealed frame has type ``RaftWireFormat/sealedFrameType``; its payload is the protection's
/// envelope around the inner frame's type byte and payload. Sealing is per frame and carries no
/// sequence number: like the network itself, an attacker who recorded sealed frames can replay
/// them, which Raft tolerates (its messages may be duplicated and delayed), but cannot forge,
/// alter or read one.
public protocol RaftFrameProtection: Sendable {
    /// The frame to send in place of `frame`: sealed, or `frame` itself while outgoing sealing is
    /// off (migrating a running cluster). Nil when it cannot be sealed; the batch is then not sent.
    func outgoing(_ frame: Frame) -> Frame?

    /// The Raft frame inside `frame` received from `peer`, or why `frame` is refused: a sealed
    /// frame that does not open, or a plain Raft frame while incoming sealing is required.
    func incoming(_ frame: Frame, from peer: String) -> Result<Frame, RaftFrameRefusal>
}

/// Why a protected transport refused an incoming frame (the connection is then closed).
public struct RaftFrameRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { reason }
}

extension RaftWireFormat {
    /// Type 3, *sealed*: a message or chunk frame sealed by a ``RaftFrameProtection``.
    public static let sealedFrameType: UInt8 = 3

    /// Bytes a protection may add to a frame's payload; receivers accept frames this much larger.
    public static let sealingAllowance = 64

    /// The plaintext a protection seals for `frame`: its type byte, then its payload.
    public static func sealable(_ frame: Frame) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(1 + frame.payload.count)
        bytes.append(frame.type)
        bytes.append(contentsOf: frame.payload)
        return bytes
    }

    /// The frame whose ``sealable(_:)`` bytes are `plaintext`; only message and chunk frames
    /// may be sealed.
    public static func unsealed(_ plaintext: [UInt8]) -> Result<Frame, RaftFrameRefusal> {
        guard let type = plaintext.first else { return .failure(RaftFrameRefusal("a sealed frame opened to nothing")) }
        guard type == messageFrameType || type == chunkFrameType else {
            return .failure(RaftFrameRefusal("a sealed frame holds frame type \(type); expected \(messageFrameType) (message) "
                                             + "or \(chunkFrameType) (message chunk)"))
        }
        return .success(Frame(type: type, payload: Array(plaintext.dropFirst())))
    }
}
