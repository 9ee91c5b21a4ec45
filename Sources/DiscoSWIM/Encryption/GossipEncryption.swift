import DiscoCore
import Synchronization

// MARK: - Configuration

extension SWIM {
    /// How a shell encrypts its gossip: the keyring, the label bound into every message, and the
    /// two switches for migrating a running cluster from plaintext (as serf and Consul have them).
    ///
    /// Migration from plaintext without downtime: restart every member with the key and both
    /// switches off (they send plaintext and accept both), then turn `verifyOutgoing` on
    /// everywhere (all send sealed), then `verifyIncoming` (plaintext is refused again).
    public struct GossipEncryption: Sendable {
        /// Seals with the primary key; opens with any key.
        public var keyring: GossipKeyring
        /// Bound into every message as associated data; members must agree (discod uses the
        /// cluster name), so clusters that share a key still refuse each other's traffic.
        public var label: String
        /// Refuse plaintext SWIM messages (the default). Off, plaintext is accepted as well and
        /// counted in ``SWIM/Shell/Statistics/plaintextAccepted``.
        public var verifyIncoming: Bool
        /// Seal everything sent (the default). Off, messages go out in plaintext.
        public var verifyOutgoing: Bool

        public init(keyring: GossipKeyring, label: String = "", verifyIncoming: Bool = true, verifyOutgoing: Bool = true) {
            self.keyring = keyring
            self.label = label
            self.verifyIncoming = verifyIncoming
            self.verifyOutgoing = verifyOutgoing
        }
    }
}

// MARK: - Runtime state

/// The shell's encryption at run time: the current sealer (replaced when the keyring is
/// reloaded), counters and rate-limited logging of what was dropped. Shared by the actor, the
/// sender task and the push-pull tasks, so it locks instead of living on the actor.
final class GossipProtection: Sendable {
    struct Counters: Sendable, Hashable {
        var decryptFailures = 0
        var plaintextDropped = 0
        var plaintextAccepted = 0
        var openedWithAcceptedKey = 0
        var keyringsInstalled = 0
        var sealFailures = 0
    }

    private struct State: Sendable {
        var sealer: SWIM.GossipSealer
        var counters = Counters()
        var decryptLog = RateLimitedLog(interval: GossipProtection.logInterval)
        var plaintextLog = RateLimitedLog(interval: GossipProtection.logInterval)
    }

    /// Dropped messages of one kind are logged at most once per interval (with a count of the
    /// ones held back); a misconfigured peer would otherwise fill the log.
    static let logInterval: Duration = .seconds(10)

    let verifyIncoming: Bool
    let verifyOutgoing: Bool
    private let logger: Logger
    private let origin = ContinuousClock.now
    private let state: Mutex<State>

    init(_ encryption: SWIM.GossipEncryption, logger: Logger) {
        verifyIncoming = encryption.verifyIncoming
        verifyOutgoing = encryption.verifyOutgoing
        self.logger = logger
        state = Mutex(State(sealer: SWIM.GossipSealer(keyring: encryption.keyring, label: encryption.label)))
    }

    var counters: Counters { state.withLock { $0.counters } }
    var keyring: GossipKeyring { state.withLock { $0.sealer.keyring } }

    /// Replaces the keyring; what is sent from now on is sealed with its primary key.
    func install(_ keyring: GossipKeyring) {
        state.withLock {
            $0.sealer = $0.sealer.with(keyring: keyring)
            $0.counters.keyringsInstalled += 1
        }
    }

    // MARK: Outgoing

    /// The bytes to send for `plaintext`: sealed, or as they are when `verifyOutgoing` is off.
    /// Nil (logged, counted) when OpenSSL cannot seal, which leaves nothing safe to send.
    func outgoing(_ plaintext: [UInt8], purpose: SWIM.GossipSealer.Purpose) -> [UInt8]? {
        guard verifyOutgoing else { return plaintext }
        let sealer = state.withLock { $0.sealer }
        do {
            return try sealer.seal(plaintext, purpose: purpose)
        } catch {
            state.withLock { $0.counters.sealFailures += 1 }
            logger.error("cannot seal gossip; message not sent", metadata: ["error": "\(error)"])
            return nil
        }
    }

    // MARK: Incoming

    /// What became of an incoming message.
    enum Incoming {
        /// Opened (`plaintext` false), or plaintext let through while `verifyIncoming` is off
        /// (`plaintext` true: the caller counts it with ``countPlaintextAccepted()`` once the
        /// message decodes and is used, so bytes that are no SWIM message are not counted).
        case accepted([UInt8], plaintext: Bool)
        /// Dropped, counted and logged: plaintext refused, or it did not open.
        case dropped(SWIM.OpenFailure.Kind)
    }

    /// Counts a plaintext message accepted while `verifyIncoming` is off.
    func countPlaintextAccepted() {
        state.withLock { $0.counters.plaintextAccepted += 1 }
    }

    /// Opens an incoming message; one that is dropped is counted and logged (at most once per
    /// ``logInterval`` and kind). `from` names the sender in the log.
    func incoming(_ bytes: [UInt8], purpose: SWIM.GossipSealer.Purpose, from peer: String) -> Incoming {
        let sealer = state.withLock { $0.sealer }
        let failure: SWIM.OpenFailure
        switch sealer.open(bytes, purpose: purpose) {
        case .success(let opened):
            if opened.keyIndex > 0 { state.withLock { $0.counters.openedWithAcceptedKey += 1 } }
            return .accepted(opened.bytes, plaintext: false)
        case .failure(let error):
            failure = error
        }
        let now = ContinuousClock.now - origin
        let what = purpose == .datagram ? "datagram" : "push-pull state"
        if failure.kind == .plaintext {
            if !verifyIncoming { return .accepted(bytes, plaintext: true) }
            let (log, suppressed) = state.withLock {
                $0.counters.plaintextDropped += 1
                return $0.plaintextLog.shouldLog(at: now)
            }
            if log {
                logger.warning("dropped a plaintext \(what): this member requires gossip sealed with its key "
                               + "(the sender runs without -gossip-key, or with -gossip-verify-outgoing=false)",
                               metadata: Self.metadata(peer: peer, bytes: bytes.count, suppressed: suppressed))
            }
            return .dropped(.plaintext)
        }
        let (log, suppressed) = state.withLock {
            $0.counters.decryptFailures += 1
            return $0.decryptLog.shouldLog(at: now)
        }
        if log {
            var metadata = Self.metadata(peer: peer, bytes: bytes.count, suppressed: suppressed)
            metadata["reason"] = "\(failure.reason)"
            metadata["keys"] = "\(sealer.keyring.fingerprints)"
            logger.error("dropped a \(what) that does not open with this member's gossip keyring: "
                         + "members must share a key and the label \(sealer.label.debugDescription)", metadata: metadata)
        }
        return .dropped(failure.kind)
    }

    private static func metadata(peer: String, bytes: Int, suppressed: Int) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["from": "\(peer)", "bytes": "\(bytes)"]
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        return metadata
    }
}
