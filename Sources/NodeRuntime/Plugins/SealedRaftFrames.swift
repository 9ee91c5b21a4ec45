import DiscoCore
import DiscoNet
import DiscoRaft
import DiscoSWIM
import Synchronization

// MARK: - Raft frames sealed with the gossip keyring

/// Seals the node's Raft frames with its gossip keyring (`-gossip-key`, `-gossip-keyring`), so
/// that without the key nobody can speak Raft on the internode port: not vote, not append, not
/// tell a node it was removed. AES-256-GCM under the primary key, opened with any key of the
/// ring, the cluster name bound in as for gossip; `-gossip-verify-incoming=false` and
/// `-gossip-verify-outgoing=false` migrate a running cluster here as they do for gossip.
final class SealedRaftFrames: RaftFrameProtection {
    let verifyIncoming: Bool
    let verifyOutgoing: Bool
    private let sealer: Mutex<SWIM.GossipSealer>
    private let logger: Logger

    init(_ encryption: SWIM.GossipEncryption, logger: Logger) {
        verifyIncoming = encryption.verifyIncoming
        verifyOutgoing = encryption.verifyOutgoing
        sealer = Mutex(SWIM.GossipSealer(keyring: encryption.keyring, label: encryption.label))
        self.logger = logger
    }

    /// Replaces the keyring (on a reload of the keyring file); frames sent from now on are
    /// sealed with its primary key.
    func install(_ keyring: GossipKeyring) {
        sealer.withLock { $0 = $0.with(keyring: keyring) }
    }

    func outgoing(_ frame: Frame) -> Frame? {
        guard verifyOutgoing else { return frame }
        let current = sealer.withLock { $0 }
        do {
            return Frame(type: RaftWireFormat.sealedFrameType,
                         payload: try current.seal(RaftWireFormat.sealable(frame), purpose: .raftFrame))
        } catch {
            logger.error("cannot seal a Raft frame; its messages are not sent", metadata: ["error": "\(error)"])
            return nil
        }
    }

    func incoming(_ frame: Frame, from peer: String) -> Result<Frame, RaftFrameRefusal> {
        guard frame.type == RaftWireFormat.sealedFrameType else {
            if !verifyIncoming { return .success(frame) }
            return .failure(RaftFrameRefusal("a plain Raft frame, but this node requires Raft frames sealed with its gossip key "
                                             + "(the sender runs without -gossip-key, or with -gossip-verify-outgoing=false)"))
        }
        let current = sealer.withLock { $0 }
        switch current.open(frame.payload, purpose: .raftFrame) {
        case .success(let opened):
            return RaftWireFormat.unsealed(opened.bytes)
        case .failure(let failure):
            return .failure(RaftFrameRefusal("a sealed Raft frame that does not open with this node's gossip keyring "
                                             + "(\(failure.reason)); nodes must share a key and the cluster name "
                                             + "\(current.label.debugDescription) [\(current.keyring.fingerprints)]"))
        }
    }
}
